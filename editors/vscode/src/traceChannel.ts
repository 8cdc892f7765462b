// The output channel "nextword (LSP trace)", where vscode-languageclient traces the messages to
// and from the server.
import * as vscode from 'vscode';

import { SECTION } from './settings';

/**
 * vscode-languageclient traces only while its trace channel's log level is Trace, and a real
 * log channel's level is set by hand in the Output view. This channel's level follows
 * `nextword.trace.server` instead, so that setting alone turns tracing on and off; and, being
 * separate from the `nextword` channel, raising that channel's level never starts tracing
 * (which logs document text).
 */
export class TraceChannel implements vscode.LogOutputChannel {
  readonly name = 'nextword (LSP trace)';
  private channel: vscode.OutputChannel | undefined;
  private readonly levelChanged = new vscode.EventEmitter<vscode.LogLevel>();
  private readonly listener: vscode.Disposable;
  readonly onDidChangeLogLevel = this.levelChanged.event;

  constructor() {
    this.listener = vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${SECTION}.trace.server`)) {
        this.levelChanged.fire(this.logLevel);
      }
    });
  }

  get logLevel(): vscode.LogLevel {
    const setting = vscode.workspace.getConfiguration(SECTION).get<string>('trace.server', 'off');
    return setting === 'messages' || setting === 'verbose' ? vscode.LogLevel.Trace : vscode.LogLevel.Off;
  }

  private get output(): vscode.OutputChannel {
    // Created on first use, so that the Output view lists it only once tracing is on.
    this.channel ??= vscode.window.createOutputChannel(this.name);
    return this.channel;
  }

  private write(level: string, message: string): void {
    this.output.appendLine(`${new Date().toISOString()} [${level}] ${message}`);
  }

  trace(message: string): void {
    this.write('trace', message);
  }

  debug(message: string): void {
    this.write('debug', message);
  }

  info(message: string): void {
    this.write('info', message);
  }

  warn(message: string): void {
    this.write('warning', message);
  }

  error(error: string | Error): void {
    this.write('error', error instanceof Error ? (error.stack ?? error.message) : error);
  }

  append(value: string): void {
    this.output.append(value);
  }

  appendLine(value: string): void {
    this.output.appendLine(value);
  }

  replace(value: string): void {
    this.output.replace(value);
  }

  clear(): void {
    this.channel?.clear();
  }

  show(columnOrPreserveFocus?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    this.output.show(typeof columnOrPreserveFocus === 'boolean' ? columnOrPreserveFocus : preserveFocus);
  }

  hide(): void {
    this.channel?.hide();
  }

  dispose(): void {
    this.listener.dispose();
    this.levelChanged.dispose();
    this.channel?.dispose();
  }
}
