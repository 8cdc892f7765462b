// nextword for VS Code: starts `nextword serve` and connects it to Markdown and plain-text files.
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
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

import { findCommand } from './findCommand';
import { pipeServerLog } from './serverLog';
import { clientSettings, RESTART_ON, SECTION, serverSettings } from './settings';
import { describe, ServerStatus, StatusItem } from './status';

const POLL_BUSY_MS = 1000; // status refresh while loading or training
const POLL_IDLE_MS = 15000; // and otherwise (the server swaps models on its own when files change)

class Controller implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly output: vscode.LogOutputChannel;
  private readonly statusItem: StatusItem;
  private lastStatus: ServerStatus | undefined;
  private poll: NodeJS.Timeout | undefined;
  private starting: Promise<void> = Promise.resolve();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('nextword', { log: true });
    this.statusItem = new StatusItem();
  }

  // ----- lifecycle -----------------------------------------------------------------------
  start(): Promise<void> {
    this.starting = this.starting.then(() => this.startClient());
    return this.starting;
  }

  restart(): Promise<void> {
    this.starting = this.starting.then(async () => {
      await this.stopClient();
      await this.startClient();
    });
    return this.starting;
  }

  private async startClient(): Promise<void> {
    const settings = clientSettings();
    const command = findCommand(settings.command);
    if (command === undefined) {
      this.reportMissingServer(settings.command);
      return;
    }
    this.statusItem.show('starting');
    const serverOptions: ServerOptions = {
      command,
      args: settings.args,
      transport: TransportKind.stdio,
      options: { env: { ...process.env, PYTHONUNBUFFERED: '1' } },
    };
    const documentSelector = settings.languages.flatMap((language) => [
      { language, scheme: 'file' },
      { language, scheme: 'untitled' },
      { language, scheme: 'vscode-notebook-cell' },
    ]);
    const clientOptions: LanguageClientOptions = {
      documentSelector,
      outputChannel: this.output,
      stdioOptions: { stderr: pipeServerLog, stdout: pipeServerLog },
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: serverSettings(),
      synchronize: { configurationSection: SECTION },
      middleware: {
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
    const client = new LanguageClient('nextword', 'nextword', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client) {
        this.statusItem.show('stopped');
      } else if (event.newState === State.Running) {
        this.schedulePoll(0);
      }
    });
    try {
      await client.start();
      this.output.info(`started ${command} ${settings.args.join(' ')} for ${settings.languages.join(', ')}`);
      console.log(`[nextword] server started: ${command} ${settings.args.join(' ')}`);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.output.error(`could not start ${command}: ${reason}`);
      this.statusItem.show('stopped', undefined, `Could not start ${command}: ${reason}`);
      const choice = await vscode.window.showErrorMessage(
        `nextword: the language server (${command} ${settings.args.join(' ')}) did not start: ${reason}`,
        'Show Log',
        'Open README',
      );
      this.onChoice(choice);
    }
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.lastStatus = undefined;
    if (this.poll !== undefined) {
      clearTimeout(this.poll);
      this.poll = undefined;
    }
    if (client !== undefined) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`stopping the server: ${String(error)}`);
      }
    }
  }

  private reportMissingServer(command: string): void {
    const message =
      `nextword: the language server command "${command}" was not found` +
      (command.includes('/') ? '.' : ' on PATH.') +
      ' Install nextword (for example `pipx install nextword`) or set "nextword.serverCommand" to the full path of the nextword program.';
    this.output.error(message);
    console.log(`[nextword] ${message}`);
    this.statusItem.show('missing-server', undefined, message);
    void vscode.window.showErrorMessage(message, 'Open README', 'Open Settings').then((choice) => this.onChoice(choice));
  }

  private onChoice(choice: string | undefined): void {
    if (choice === 'Open README') {
      // The README ships inside the extension (vsce stores it as readme.md).
      const readme = ['README.md', 'readme.md']
        .map((name) => vscode.Uri.joinPath(this.context.extensionUri, name))
        .find((uri) => fs.existsSync(uri.fsPath));
      if (readme !== undefined) {
        void vscode.commands.executeCommand('markdown.showPreview', readme);
      }
    } else if (choice === 'Open Settings') {
      void vscode.commands.executeCommand('workbench.action.openSettings', 'nextword.serverCommand');
    } else if (choice === 'Show Log') {
      this.output.show(true);
    } else if (choice === 'Reload Model') {
      void vscode.commands.executeCommand('nextword.reload');
    } else if (choice === 'Train on This Workspace') {
      void vscode.commands.executeCommand('nextword.trainOnWorkspace');
    }
  }

  // ----- talking to the server -------------------------------------------------------------
  private async running(): Promise<LanguageClient | undefined> {
    await this.starting;
    const client = this.client;
    if (client === undefined || client.state !== State.Running) {
      const choice = await vscode.window.showErrorMessage('nextword: the language server is not running.', 'Show Log', 'Open README');
      this.onChoice(choice);
      return undefined;
    }
    return client;
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
    const busy = status === undefined || status.state === 'starting' || status.state === 'loading' || !!status.training;
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
    const client = await this.running();
    if (client !== undefined) {
      await this.execute(client, 'nextword.cancelTraining');
      this.schedulePoll(POLL_BUSY_MS);
    }
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
            void vscode.window.showWarningMessage(`nextword: training did not start: ${answer?.reason ?? 'no reason given'}.`);
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

  showLog(): void {
    this.output.show(true);
  }

  async onConfigurationChanged(event: vscode.ConfigurationChangeEvent): Promise<void> {
    if (RESTART_ON.some((key) => event.affectsConfiguration(`${SECTION}.${key}`))) {
      this.output.info('server command or languages changed: restarting the server');
      await this.restart();
    }
  }

  async dispose(): Promise<void> {
    await this.stopClient();
    this.statusItem.dispose();
    this.output.dispose();
  }
}

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const c = (controller = new Controller(context));
  context.subscriptions.push(
    vscode.commands.registerCommand('nextword.trainOnWorkspace', () => c.train()),
    vscode.commands.registerCommand('nextword.stopTraining', () => c.cancelTraining()),
    vscode.commands.registerCommand('nextword.reload', () => c.reload()),
    vscode.commands.registerCommand('nextword.showStatus', () => c.showStatus()),
    vscode.commands.registerCommand('nextword.restartServer', () => c.restart()),
    vscode.commands.registerCommand('nextword.showLog', () => c.showLog()),
    vscode.workspace.onDidChangeConfiguration((event) => c.onConfigurationChanged(event)),
  );
  await c.start();
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  await c?.dispose();
}
