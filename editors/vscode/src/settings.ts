// Which of the `nextword.*` settings belong to the extension and which to the server.
import * as vscode from 'vscode';

export const SECTION = 'nextword';

/** Settings the extension itself reads; every other `nextword.*` setting goes to the server. */
export const CLIENT_ONLY = ['serverCommand', 'serverArgs', 'languages', 'trace'] as const;

/** Settings whose change needs a new server process (or a new document selector). */
export const RESTART_ON = ['serverCommand', 'serverArgs', 'languages'] as const;

/**
 * The completion trigger characters the server always announces (server/configuration.py,
 * ANNOUNCED_TRIGGERS): a space, ASCII punctuation but the underscore, and “‘«„¿¡. VS Code
 * learns the triggers once, when the server starts; any other character in
 * `nextword.triggerCharacters` takes effect only in a server started with it.
 */
export const ANNOUNCED_TRIGGERS: readonly string[] = [...' !"#$%&\'()*+,-./:;<=>?@[\\]^`{|}~“‘«„¿¡'];

/** Whether `wanted` has a trigger character that a server started with `announced` lacks. */
export function needsNewTriggers(announced: readonly string[], wanted: readonly string[]): boolean {
  return wanted.some((c) => !ANNOUNCED_TRIGGERS.includes(c) && !announced.includes(c));
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The server's settings as JSON (camelCase keys, nested objects for `inline.*`, `training.*`). */
export function serverSettings(scope?: vscode.ConfigurationScope): { [key: string]: Json } {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  // A WorkspaceConfiguration serializes to its values; its methods drop out.
  const all = JSON.parse(JSON.stringify(config)) as { [key: string]: Json };
  for (const key of CLIENT_ONLY) {
    delete all[key];
  }
  return all;
}

export interface ClientSettings {
  command: string;
  args: string[];
  languages: string[];
}

export function clientSettings(): ClientSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const command = (config.get<string>('serverCommand') ?? '').trim() || 'nextword';
  const args = config.get<string[]>('serverArgs') ?? ['serve'];
  const languages = (config.get<string[]>('languages') ?? []).filter((l) => typeof l === 'string' && l.trim() !== '');
  return {
    command,
    args: Array.isArray(args) ? args.map(String) : ['serve'],
    languages: languages.length > 0 ? languages : ['markdown', 'plaintext'],
  };
}

/** `nextword.triggerCharacters`, the strings in it. */
export function triggerCharacters(): string[] {
  const value = vscode.workspace.getConfiguration(SECTION).get<unknown>('triggerCharacters');
  return Array.isArray(value) ? value.filter((c): c is string => typeof c === 'string') : [];
}

/** What `WorkspaceConfiguration.inspect` tells of a setting (the fields used here). */
export interface Inspected {
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/**
 * Where a server program the person picked is stored. The program belongs to the machine, not
 * to the notes (the setting is machine-overridable; a path in `.vscode/settings.json` would
 * travel with the notes to machines that lack it), so it goes to the user's settings: VS Code
 * writes a machine-scoped setting given ConfigurationTarget.Global to the *Remote* settings in
 * a remote window such as code-server's, the only place it applies there (the User tab's value
 * is ignored). Only where a workspace (folder) value is in force, and would hide the user's, is
 * that value replaced instead.
 */
export function commandTarget(inspected: Inspected | undefined): vscode.ConfigurationTarget {
  if (inspected?.workspaceFolderValue !== undefined) {
    return vscode.ConfigurationTarget.WorkspaceFolder;
  }
  if (inspected?.workspaceValue !== undefined) {
    return vscode.ConfigurationTarget.Workspace;
  }
  return vscode.ConfigurationTarget.Global;
}
