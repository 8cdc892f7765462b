// The status bar item: which model is in use, whether it is loading, ready or training, and
// what the server learns from the workspace's notes.
import * as path from 'path';
import * as vscode from 'vscode';

import { learningLines, learningSummary, learningText, Reading, WorkspaceLearning } from './learning';

/** What `nextword.status` answers (the fields the extension uses). */
export interface ServerStatus {
  state?: string; // starting, loading, ready, missing, failed
  model?: string | null;
  wanted?: string | null;
  vocabularySize?: number;
  loadSeconds?: number | null;
  documentsOpen?: number;
  version?: string;
  error?: string | null;
  training?: { folder?: string; fraction?: number; message?: string; runningSeconds?: number } | null;
  modelInfo?: { [key: string]: unknown } | null;
  workspaces?: WorkspaceLearning[] | null; // one per workspace folder, and one for files outside them
  settings?: { learning?: { enabled?: boolean } } | null;
}

/** Whether the server's settings have learning on (undefined: it does not say). */
export function learningEnabled(status: ServerStatus | undefined): boolean | undefined {
  return status?.settings?.learning?.enabled;
}

export type Phase = 'starting' | 'stopped' | 'missing-server' | 'running';

export function modelName(status: ServerStatus): string {
  const file = status.model ?? status.wanted;
  return file ? path.basename(file) : 'no model';
}

export function percentText(fraction: number | undefined): string {
  return `${Math.round(100 * Math.min(1, Math.max(0, fraction ?? 0)))}%`;
}

/** One sentence a person reads: "model.safetensors (2,000 words) is ready; 3 documents open." */
export function describe(status: ServerStatus): string {
  const name = modelName(status);
  const words = status.vocabularySize ? ` (${status.vocabularySize.toLocaleString('en-US')} words)` : '';
  const docs = status.documentsOpen ?? 0;
  const documents = `${docs} document${docs === 1 ? '' : 's'} open`;
  let state: string;
  switch (status.state) {
    case 'ready':
      state = `${name}${words} is ready` + (status.loadSeconds != null ? `, loaded in ${status.loadSeconds.toFixed(2)} s` : '');
      break;
    case 'starting':
    case 'loading':
      state = `loading ${name}; until it is ready, suggestions come from the document's own words`;
      break;
    case 'missing':
    case 'failed':
      state = `no model loaded (${status.error ?? status.state}); suggestions come from the document's own words`;
      break;
    default:
      state = `model state ${status.state ?? 'unknown'}`;
  }
  const training = status.training ? `; training on ${status.training.folder ?? 'the workspace'}, ${percentText(status.training.fraction)}` : '';
  const summary = learningSummary(status.workspaces, learningEnabled(status));
  const learning = summary ? `; ${summary}` : '';
  return `nextword ${status.version ?? ''}: ${state}${training}${learning}; ${documents}.`.replace('nextword :', 'nextword:');
}

export class StatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private shown: [Phase, ServerStatus | undefined, string | undefined] | undefined;
  private reading: Reading | undefined; // the server's "Reading your notes" progress, while it lasts

  constructor() {
    this.item = vscode.window.createStatusBarItem('nextword.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'nextword';
    this.item.command = 'nextword.showStatus';
  }

  /** The server's reading progress changed: shown at once, without waiting for the next status. */
  setReading(reading: Reading | undefined): void {
    this.reading = reading;
    if (this.shown !== undefined) {
      this.show(...this.shown);
    }
  }

  /** Sets and shows the item (hidden until the server is first started). */
  show(phase: Phase, status?: ServerStatus, detail?: string): void {
    this.shown = [phase, status, detail];
    const item = this.item;
    item.show();
    item.backgroundColor = undefined;
    if (phase === 'missing-server') {
      item.text = '$(error) nextword: no server';
      item.tooltip = detail ?? 'The nextword language server was not found. Click for details.';
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      return;
    }
    if (phase === 'stopped') {
      item.text = '$(circle-slash) nextword: stopped';
      item.tooltip = detail ?? 'The nextword language server is not running. Click for details.';
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      return;
    }
    if (phase === 'starting' || status === undefined) {
      item.text = '$(loading~spin) nextword: starting';
      item.tooltip = 'Starting the nextword language server…';
      return;
    }
    const name = modelName(status);
    if (status.training) {
      item.text = `$(sync~spin) nextword: training ${percentText(status.training.fraction)}`;
    } else if (status.state === 'ready') {
      item.text = `$(check) nextword: ${name}`;
    } else if (status.state === 'loading' || status.state === 'starting') {
      item.text = `$(loading~spin) nextword: loading ${name}`;
    } else {
      item.text = '$(warning) nextword: no model';
      item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    }
    const learning = learningText(status.workspaces, this.reading, learningEnabled(status));
    if (learning) {
      item.text += ` · ${learning}`;
    }
    const tooltip = new vscode.MarkdownString(undefined, true);
    tooltip.appendMarkdown(`**nextword** — ${status.state ?? 'unknown'}\n\n`);
    tooltip.appendText(describe(status));
    if (status.model) {
      tooltip.appendMarkdown('\n\nModel: ');
      tooltip.appendText(status.model);
    }
    if (status.training?.message) {
      tooltip.appendMarkdown('\n\nTraining: ');
      tooltip.appendText(status.training.message);
    }
    const lines = learningLines(status.workspaces);
    if (lines.length > 0 || learning) {
      tooltip.appendMarkdown(`\n\nLearning from your notes${learning ? ` (${learning})` : ''}${lines.length > 0 ? ':' : '.'}`);
      for (const line of lines) {
        tooltip.appendMarkdown('\n- ');
        tooltip.appendText(line);
      }
    }
    tooltip.appendMarkdown('\n\nClick for status and commands.');
    item.tooltip = tooltip;
  }

  dispose(): void {
    this.item.dispose();
  }
}
