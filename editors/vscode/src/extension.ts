// nextword for VS Code: starts `nextword serve` and connects it to Markdown and plain-text files
// (the languages of nextword.languages) once one is open.
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TransportKind,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
} from 'vscode-languageclient/node';

import { findCommand, isProgram, VENV_BIN_DIRS } from './findCommand';
import { forgottenMessage, ReadingProgress } from './learning';
import { pipeServerLog } from './serverLog';
import { clientSettings, commandTarget, needsNewTriggers, RESTART_ON, SECTION, serverSettings, triggerCharacters } from './settings';
import { describe, learningEnabled, ServerStatus, StatusItem } from './status';
import { TraceChannel } from './traceChannel';

const POLL_BUSY_MS = 1000; // status refresh while loading or training
const POLL_IDLE_MS = 15000; // and otherwise (the server swaps models on its own when files change)
const STDERR_WAIT_MS = 2000; // for the last words of a server that stopped, before quoting them
const MAX_CRASHES = 5; // a server that stops this often within CRASH_WINDOW_MS is not restarted
const CRASH_WINDOW_MS = 3 * 60 * 1000;
// The server's command that forgets a folder's learned notes. vscode-languageclient registers the
// server's commands under their own names, so the palette command has another (forgetThisWorkspace).
const FORGET_WORKSPACE = 'nextword.forgetWorkspace';
const FORGET = 'Forget';

// vscode-languageclient adds a notification of its own ('force') to every failed start
// ("couldn't create connection to server", one per attempt); the extension reports a failed
// start itself, once, with the server's last words and what to do, so the client only logs.
class NextwordClient extends LanguageClient {
  override error(message: string, data?: unknown, showNotification?: boolean | 'force'): void {
    super.error(message, data, showNotification === 'force' ? false : showNotification);
  }
}

function documentSelector(languages: string[]): { language: string; scheme: string }[] {
  return languages.flatMap((language) => [
    { language, scheme: 'file' },
    { language, scheme: 'untitled' },
    { language, scheme: 'vscode-notebook-cell' },
  ]);
}

/** The first workspace folder on disk: `${workspaceFolder}` and relative server commands mean it. */
function workspaceFolderPath(): string | undefined {
  return workspaceFolderPaths()[0];
}

/** Every workspace folder on disk: a `nextword` in one's virtual environment is found by itself. */
function workspaceFolderPaths(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file').map((folder) => folder.uri.fsPath);
}

const CHOOSE_PROGRAM = 'Choose the Program…';

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Controller implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly output: vscode.LogOutputChannel;
  private readonly traceChannel: TraceChannel;
  private readonly statusItem: StatusItem;
  private lastStatus: ServerStatus | undefined;
  private readonly reading = new ReadingProgress(); // the server's "Reading your notes" progress
  private poll: NodeJS.Timeout | undefined;
  private starting: Promise<void> = Promise.resolve();
  private wanted = false; // a document in nextword.languages was open, or a command needed the server
  private announcedTriggers: string[] = []; // nextword.triggerCharacters when the server started
  private crashes: number[] = []; // when the server stopped on its own, recently

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('nextword', { log: true });
    this.traceChannel = new TraceChannel();
    this.statusItem = new StatusItem();
  }

  // ----- lifecycle -----------------------------------------------------------------------
  /**
   * Starts the server the first time one of `documents` is in `nextword.languages`: the
   * server loads torch and a model, too much to start in every window.
   */
  startFor(documents: readonly vscode.TextDocument[]): void {
    const selector = documentSelector(clientSettings().languages);
    if (!this.wanted && documents.some((document) => vscode.languages.match(selector, document) > 0)) {
      void this.start();
    }
  }

  start(): Promise<void> {
    this.wanted = true;
    this.starting = this.starting.then(() => this.startClient());
    return this.starting;
  }

  restart(): Promise<void> {
    this.crashes = [];
    return this.restartClient();
  }

  private restartClient(): Promise<void> {
    this.wanted = true;
    this.starting = this.starting.then(async () => {
      await this.stopClient();
      await this.startClient();
    });
    return this.starting;
  }

  private async startClient(): Promise<void> {
    const settings = clientSettings();
    const folder = workspaceFolderPath();
    const command = findCommand(settings.command, folder, process.env, workspaceFolderPaths());
    if (command === undefined) {
      this.reportMissingServer(settings.command, folder);
      return;
    }
    this.statusItem.show('starting');
    // What the server wrote last, to quote when it stops (filled in by its stderr pipe).
    const server = { lastLine: undefined as string | undefined, stderrClosed: Promise.resolve() };
    const lastWords = async (): Promise<string | undefined> => {
      await Promise.race([server.stderrClosed, delay(STDERR_WAIT_MS)]);
      return server.lastLine;
    };
    const serverOptions: ServerOptions = {
      command,
      args: settings.args,
      transport: TransportKind.stdio,
      options: { env: { ...process.env, PYTHONUNBUFFERED: '1' } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: documentSelector(settings.languages),
      outputChannel: this.output,
      traceOutputChannel: this.traceChannel,
      stdioOptions: {
        stderr: (input, channel) => {
          server.stderrClosed = pipeServerLog(input, channel, (line) => (server.lastLine = line));
        },
        stdout: pipeServerLog,
      },
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      // A function, so that every start sends the settings of the time.
      initializationOptions: () => {
        this.announcedTriggers = triggerCharacters();
        return serverSettings();
      },
      // A server that fails to start is not started again and again: the extension says why
      // and starts it again when its settings change. One that stops after it ran is
      // restarted below (onDidChangeState), as a new client, with the settings of the time.
      initializationFailedHandler: () => false,
      errorHandler: {
        error: (_error, _message, count) => ({ action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true }),
        closed: () => ({ action: CloseAction.DoNotRestart, handled: true }),
      },
      synchronize: { configurationSection: SECTION },
      middleware: {
        // The client shows the server's progress in the window; the status item follows
        // "Reading your notes" too, with its count, and asks for the status once it ends.
        handleWorkDoneProgress: (token, params, next) => {
          next(token, params);
          if (this.client === client && this.reading.update(token, params)) {
            this.statusItem.setReading(this.reading.current());
            if (params.kind === 'end') {
              this.schedulePoll(0);
            }
          }
        },
        workspace: {
          // Push only the server's settings, with the extension's own left out.
          didChangeConfiguration: async () => {
            const settings = serverSettings();
            this.output.info(`settings changed; sending them to the server: ${JSON.stringify(settings)}`);
            await this.client?.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: settings } });
            this.schedulePoll(200);
          },
          // And answer the server's workspace/configuration pull the same way.
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            return params.items.map((item, i) => {
              if (item.section !== SECTION) {
                return answer[i];
              }
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              return serverSettings(scope);
            });
          },
        },
      },
    };
    const client = new NextwordClient('nextword', 'nextword', serverOptions, clientOptions);
    this.client = client;
    const commandLine = [command, ...settings.args].join(' ');
    client.onDidChangeState((event) => {
      if (this.client !== client) {
        return;
      }
      if (event.newState === State.Running) {
        this.schedulePoll(0);
      } else if (event.newState === State.Stopped) {
        this.statusItem.show('stopped');
        if (event.oldState === State.Running) {
          void lastWords().then((line) => this.serverStopped(client, commandLine, line));
        }
      }
    });
    try {
      await client.start();
      this.output.info(`started ${commandLine} for ${settings.languages.join(', ')}`);
      console.log(`[nextword] server started: ${commandLine}`);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.reportFailedStart(commandLine, reason, await lastWords());
    }
  }

  /** The server stopped on its own after it ran: started again, unless it keeps stopping. */
  private serverStopped(client: LanguageClient, commandLine: string, lastLine: string | undefined): void {
    if (this.client !== client) {
      return;
    }
    const now = Date.now();
    this.crashes = [...this.crashes.filter((time) => now - time < CRASH_WINDOW_MS), now];
    const said = lastLine ? ` Its last words: "${lastLine.slice(0, 300)}".` : '';
    if (this.crashes.length < MAX_CRASHES) {
      this.output.warn(`the language server (${commandLine}) stopped; starting it again.${said}`);
      void this.restartClient();
      return;
    }
    const message =
      `nextword: the language server (${commandLine}) stopped ${this.crashes.length} times in ${CRASH_WINDOW_MS / 60000} minutes and was not started again.${said}` +
      ' The log may say why; "nextword: Restart Server" starts it again.';
    this.output.error(message);
    this.statusItem.show('stopped', undefined, message);
    void vscode.window.showErrorMessage(message, 'Show Log', 'Restart Server').then((choice) => this.onChoice(choice));
  }

  private reportFailedStart(commandLine: string, reason: string, lastLine: string | undefined): void {
    // A server that exits at once leaves the client writing to a closed pipe: "write EPIPE",
    // "Cannot call write after a stream was destroyed", "... connection got disposed".
    const exited = /EPIPE|ECONNRESET|stream was destroyed|connection (got|is) (disposed|closed)/i.test(reason);
    const what = exited ? 'exited as it started' : `did not start (${reason})`;
    const said = lastLine ? `; it wrote: "${lastLine.slice(0, 300)}"` : '';
    const message =
      `nextword: the language server (${commandLine}) ${what}${said}.` +
      ' Check "nextword.serverCommand" and "nextword.serverArgs": they should run nextword\'s language server (`nextword serve`).' +
      ' The server starts again when they change.';
    this.output.error(`${message} (${reason})`);
    console.log(`[nextword] ${message}`);
    this.statusItem.show('stopped', undefined, message);
    // Not awaited: the answer may never come, and restarts and commands wait on this start.
    void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log').then((choice) => this.onChoice(choice, 'nextword.server'));
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.lastStatus = undefined;
    this.reading.clear();
    this.statusItem.setReading(undefined);
    if (this.poll !== undefined) {
      clearTimeout(this.poll);
      this.poll = undefined;
    }
    if (client !== undefined) {
      const wasRunning = client.isRunning();
      try {
        // Also ends the process of a server that failed to start.
        await client.stop(5000);
      } catch (error) {
        if (wasRunning) {
          this.output.warn(`stopping the server: ${String(error)}`);
        }
      }
    }
  }

  private reportMissingServer(command: string, folder: string | undefined): void {
    const venvs = VENV_BIN_DIRS.map((dir) => dir.split(path.sep)[0]).join(', ');
    let where = folder === undefined ? ' on PATH.' : ` in the workspace's virtual environment (${venvs}) or on PATH.`;
    if (command.includes('${workspaceFolder}') && folder === undefined) {
      where = ': it names ${workspaceFolder}, and no folder is open.';
    } else if (command.includes('/') || command.includes(path.sep)) {
      const relative = !path.isAbsolute(command) && !command.startsWith('~') && !command.includes('${workspaceFolder}');
      where = relative && folder !== undefined ? ` in the workspace folder ${folder}.` : '.';
    }
    const message =
      `nextword: the language server command "${command}" was not found${where}` +
      ' Install nextword from its source folder (for example `pipx install ./nextword`; it is not on PyPI),' +
      ' or choose the nextword program (it sets "nextword.serverCommand" to its full path).';
    this.output.error(message);
    console.log(`[nextword] ${message}`);
    this.statusItem.show('missing-server', undefined, message);
    void vscode.window.showErrorMessage(message, CHOOSE_PROGRAM, 'Open README', 'Open Settings').then((choice) => this.onChoice(choice));
  }

  /** The person picks the server program in a file dialog; it is stored as nextword.serverCommand. */
  async chooseServer(): Promise<void> {
    const folder = workspaceFolderPath();
    const picked = await vscode.window.showOpenDialog({
      canSelectFiles: true,
      canSelectFolders: false,
      canSelectMany: false,
      defaultUri: folder === undefined ? undefined : vscode.Uri.file(folder),
      openLabel: 'Use This Program',
      title: 'nextword: the nextword program (the language server), for example in a virtual environment\'s bin folder',
    });
    const file = picked?.[0]?.fsPath;
    if (file === undefined) {
      return;
    }
    if (!isProgram(file)) {
      void vscode.window
        .showErrorMessage(`nextword: ${file} is not a program this machine can run; choose the nextword program (in the bin folder where nextword is installed).`, CHOOSE_PROGRAM)
        .then((choice) => this.onChoice(choice));
      return;
    }
    const config = vscode.workspace.getConfiguration(SECTION);
    const target = commandTarget(config.inspect('serverCommand'));
    this.output.info(`nextword.serverCommand set to ${file} (${vscode.ConfigurationTarget[target]} settings)`);
    const before = clientSettings().command;
    try {
      await config.update('serverCommand', file, target);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      void vscode.window.showErrorMessage(`nextword: could not store "nextword.serverCommand" (${reason}); set it to ${file} in the Settings editor.`, 'Open Settings').then((choice) => this.onChoice(choice));
      return;
    }
    if (clientSettings().command === before) {
      // The same value as before: no change event restarts the server, so start it here.
      await this.restart();
    }
  }

  private onChoice(choice: string | undefined, settingsQuery = 'nextword.serverCommand'): void {
    if (choice === CHOOSE_PROGRAM) {
      void this.chooseServer();
    } else if (choice === 'Open README') {
      // The README ships inside the extension (vsce stores it as readme.md).
      const readme = ['README.md', 'readme.md']
        .map((name) => vscode.Uri.joinPath(this.context.extensionUri, name))
        .find((uri) => fs.existsSync(uri.fsPath));
      if (readme !== undefined) {
        void vscode.commands.executeCommand('markdown.showPreview', readme);
      }
    } else if (choice === 'Open Settings') {
      void vscode.commands.executeCommand('workbench.action.openSettings', settingsQuery);
    } else if (choice === 'Show Log') {
      this.output.show(true);
    } else if (choice === 'Restart Server') {
      void vscode.commands.executeCommand('nextword.restartServer');
    } else if (choice === 'Reload Model') {
      void vscode.commands.executeCommand('nextword.reload');
    } else if (choice === 'Train on This Workspace') {
      void vscode.commands.executeCommand('nextword.trainOnWorkspace');
    }
  }

  // ----- talking to the server -------------------------------------------------------------
  /** The running client; starts the server if it is not running (saying why if it cannot). */
  private async running(): Promise<LanguageClient | undefined> {
    await this.starting;
    if (this.client?.state !== State.Running) {
      await this.restart();
    }
    const client = this.client;
    return client?.state === State.Running ? client : undefined;
  }

  private execute<T>(client: LanguageClient, command: string, args?: unknown[], workDoneToken?: string): Promise<T> {
    return client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args, workDoneToken }) as Promise<T>;
  }

  private schedulePoll(delay: number): void {
    if (this.poll !== undefined) {
      clearTimeout(this.poll);
    }
    this.poll = setTimeout(() => void this.refresh(), delay);
  }

  private async refresh(): Promise<ServerStatus | undefined> {
    this.poll = undefined;
    const client = this.client;
    if (client === undefined || client.state !== State.Running) {
      return undefined;
    }
    let status: ServerStatus | undefined;
    try {
      status = await this.execute<ServerStatus>(client, 'nextword.status');
    } catch (error) {
      this.output.debug(`status: ${String(error)}`);
    }
    if (client !== this.client) {
      return undefined;
    }
    if (status !== undefined) {
      if (this.lastStatus?.state !== status.state || this.lastStatus?.model !== status.model) {
        console.log(`[nextword] model ${status.state}: ${status.model ?? status.wanted ?? 'none'}`);
      }
      this.lastStatus = status;
      this.statusItem.show('running', status);
    }
    const reading = (status?.workspaces ?? []).some((w) => w.state === 'reading');
    const busy = status === undefined || status.state === 'starting' || status.state === 'loading' || !!status.training || reading;
    this.schedulePoll(busy ? POLL_BUSY_MS : POLL_IDLE_MS);
    return status;
  }

  // ----- palette commands ------------------------------------------------------------------
  async showStatus(): Promise<void> {
    const client = await this.running();
    if (client === undefined) {
      return;
    }
    const status = await this.refresh();
    if (status === undefined) {
      return;
    }
    this.output.info(`status: ${JSON.stringify(status, null, 2)}`);
    const actions = status.training ? ['Cancel Training', 'Show Log'] : ['Reload Model', 'Train on This Workspace', 'Show Log'];
    const choice = await vscode.window.showInformationMessage(describe(status), ...actions);
    if (choice === 'Cancel Training') {
      await this.cancelTraining();
    } else {
      this.onChoice(choice);
    }
  }

  async reload(): Promise<void> {
    const client = await this.running();
    if (client === undefined) {
      return;
    }
    this.statusItem.show('running', { ...(this.lastStatus ?? {}), state: 'loading' });
    const status = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'nextword: reloading the model' },
      () => this.execute<ServerStatus>(client, 'nextword.reloadModel'),
    );
    this.lastStatus = status;
    this.statusItem.show('running', status);
    this.schedulePoll(POLL_BUSY_MS);
    if (status.state === 'ready') {
      void vscode.window.showInformationMessage(describe(status));
    }
  }

  async cancelTraining(): Promise<void> {
    await this.starting;
    const client = this.client;
    // Training runs under the server: with no server running, none runs (and none to start one for).
    const answer = client?.state === State.Running ? await this.execute<{ cancelled?: boolean }>(client, 'nextword.cancelTraining') : undefined;
    if (!answer?.cancelled) {
      void vscode.window.showInformationMessage('nextword: no training is running, so there is nothing to stop.');
    }
    this.schedulePoll(POLL_BUSY_MS);
  }

  async train(): Promise<void> {
    const client = await this.running();
    if (client === undefined) {
      return;
    }
    const folders = vscode.workspace.workspaceFolders ?? [];
    let folder: vscode.WorkspaceFolder | undefined = folders[0];
    if (folders.length === 0) {
      void vscode.window.showErrorMessage('nextword: open a folder of notes first; training reads the text files of the workspace folder.');
      return;
    }
    if (folders.length > 1) {
      folder = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Train nextword on the notes in which folder?' });
      if (folder === undefined) {
        return;
      }
    }
    const token = `nextword-train-${randomUUID()}`;
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'nextword: training', cancellable: true },
      async (progress, cancellation) => {
        let reported = 0;
        let finish: (message: string) => void = () => undefined;
        const finished = new Promise<string>((resolve) => (finish = resolve));
        const subscription = client.onProgress(WorkDoneProgress.type, token, (value) => {
          if (value.kind === 'end') {
            finish(value.message ?? 'done');
            return;
          }
          const percentage = value.percentage ?? reported;
          progress.report({ message: value.message, increment: Math.max(0, percentage - reported) });
          reported = Math.max(reported, percentage);
          this.statusItem.show('running', { ...(this.lastStatus ?? {}), training: { fraction: percentage / 100, message: value.message } });
        });
        const cancelled = cancellation.onCancellationRequested(() => {
          void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
        });
        try {
          const answer = await this.execute<{ started?: boolean; reason?: string }>(client, 'nextword.trainWorkspace', [folder.uri.toString()], token);
          if (!answer?.started) {
            // The server has said why already (window/showMessage): one message, not two.
            this.output.info(`training did not start: ${answer?.reason ?? 'no reason given'}`);
            return;
          }
          this.schedulePoll(POLL_BUSY_MS);
          let stopped: vscode.Disposable | undefined;
          const serverStopped = new Promise<string>((resolve) => {
            stopped = client.onDidChangeState((e) => e.newState === State.Stopped && resolve('the server stopped'));
          });
          const message = await Promise.race([finished, serverStopped]);
          stopped?.dispose();
          this.output.info(`training: ${message}`);
        } finally {
          subscription.dispose();
          cancelled.dispose();
          this.schedulePoll(0);
        }
      },
    );
  }

  /**
   * Asks the server to forget what it learned from a workspace folder (its store in the data
   * folder and what it holds in memory), after the person confirms; the notes are not touched.
   */
  async forgetWorkspace(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders ?? [];
    let folder: vscode.WorkspaceFolder | undefined = folders[0];
    if (folder === undefined) {
      void vscode.window.showErrorMessage(
        'nextword: no workspace folder is open, so there is nothing learned from one to forget; `nextword forget` in a terminal deletes everything nextword learned.',
      );
      return;
    }
    if (folders.length > 1) {
      folder = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Forget what nextword learned from which folder?' });
      if (folder === undefined) {
        return;
      }
    }
    const choice = await vscode.window.showWarningMessage(
      `Forget what nextword learned from ${folder.name}?`,
      {
        modal: true,
        detail:
          `nextword deletes what it learned from the notes in ${folder.uri.fsPath} (its store in nextword's data folder, and what the server holds of it). ` +
          'Your notes themselves are not touched. While nextword.learning.enabled is on, it reads the folder again from scratch.',
      },
      FORGET,
    );
    if (choice !== FORGET) {
      return;
    }
    const client = await this.running();
    if (client === undefined) {
      return;
    }
    const offered = client.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
    if (!offered.includes(FORGET_WORKSPACE)) {
      void vscode.window.showErrorMessage(
        `nextword: this nextword server (${this.lastStatus?.version ?? 'an older version'}) does not learn from the workspace, so it has nothing to forget; install a newer nextword.`,
      );
      return;
    }
    try {
      const answer = await this.execute<{ forgotten?: unknown[] } | null>(client, FORGET_WORKSPACE, [folder.uri.toString()]);
      this.output.info(`forgot ${folder.uri.fsPath}: ${JSON.stringify(answer)}`);
      void vscode.window.showInformationMessage(forgottenMessage(folder.name, answer?.forgotten, learningEnabled(this.lastStatus)));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.output.error(`forgetting ${folder.uri.fsPath}: ${reason}`);
      void vscode.window.showErrorMessage(reason.startsWith('nextword') ? reason : `nextword: forgetting ${folder.name} failed (${reason}).`, 'Show Log').then((c) => this.onChoice(c));
    }
    this.schedulePoll(0);
  }

  showLog(): void {
    this.output.show(true);
  }

  async onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!this.wanted) {
      if (event.affectsConfiguration(`${SECTION}.languages`)) {
        this.startFor(vscode.workspace.textDocuments);
      }
      return;
    }
    if (RESTART_ON.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
      this.output.info('server command or languages changed: restarting the server');
      await this.restart();
    } else if (event.affectsConfiguration(`${SECTION}.triggerCharacters`) && needsNewTriggers(this.announcedTriggers, triggerCharacters())) {
      // VS Code learns the trigger characters only when the server starts.
      this.output.info('nextword.triggerCharacters has a character the server did not announce when it started: restarting the server');
      await this.restart();
    }
  }

  async dispose(): Promise<void> {
    await this.stopClient();
    this.statusItem.dispose();
    this.traceChannel.dispose();
    this.output.dispose();
  }
}

/**
 * Escape with both the list and ghost text showing: VS Code's own Escape closes only the list
 * and leaves the ghost text in place. This one (bound to Escape in the languages of
 * nextword.languages, only while both show) takes both away.
 */
async function dismiss(): Promise<void> {
  await vscode.commands.executeCommand('hideSuggestWidget');
  await vscode.commands.executeCommand('editor.action.inlineSuggest.hide');
}

/** The context key the Escape binding's `editorLangId in nextword.languages` reads. */
function publishLanguages(): void {
  void vscode.commands.executeCommand('setContext', 'nextword.languages', clientSettings().languages);
}

let controller: Controller | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const c = (controller = new Controller(context));
  context.subscriptions.push(
    vscode.commands.registerCommand('nextword.trainOnWorkspace', () => c.train()),
    vscode.commands.registerCommand('nextword.stopTraining', () => c.cancelTraining()),
    vscode.commands.registerCommand('nextword.reload', () => c.reload()),
    vscode.commands.registerCommand('nextword.showStatus', () => c.showStatus()),
    vscode.commands.registerCommand('nextword.restartServer', () => c.restart()),
    vscode.commands.registerCommand('nextword.showLog', () => c.showLog()),
    vscode.commands.registerCommand('nextword.forgetThisWorkspace', () => c.forgetWorkspace()),
    vscode.commands.registerCommand('nextword.dismiss', dismiss),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${SECTION}.languages`)) {
        publishLanguages();
      }
      return c.onConfigurationChanged(event);
    }),
    vscode.workspace.onDidOpenTextDocument((document) => c.startFor([document])),
  );
  publishLanguages();
  c.startFor(vscode.workspace.textDocuments);
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  await c?.dispose();
}
