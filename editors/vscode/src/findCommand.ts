// Where a command runs from: a path as given (relative to the workspace folder), or, for a bare
// name, the workspace folders' virtual environments first and then PATH.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * Where a workspace's virtual environment keeps its programs, the usual names first: a
 * `nextword` installed there (`pip install ./nextword` in the notes' own environment) is the one
 * meant, so it is found by itself, before PATH.
 */
export const VENV_BIN_DIRS: readonly string[] =
  process.platform === 'win32' ? [path.join('.venv', 'Scripts'), path.join('venv', 'Scripts')] : [path.join('.venv', 'bin'), path.join('venv', 'bin')];

/** Whether `file` is a program this machine can run (a file, executable where that is marked). */
export function isProgram(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    if (process.platform !== 'win32') {
      fs.accessSync(file, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The full path `command` runs, or undefined when there is none. `${workspaceFolder}` stands
 * for `folder`, and a relative path is relative to it (a workspace setting such as
 * `.venv/bin/nextword` means the workspace's own). A bare name is looked for in the virtual
 * environments of `venvFolders` (VENV_BIN_DIRS; by default `folder`'s), then on PATH.
 */
export function findCommand(
  command: string,
  folder?: string,
  env: NodeJS.ProcessEnv = process.env,
  venvFolders: readonly string[] = folder === undefined ? [] : [folder],
): string | undefined {
  let name = command;
  if (name.includes('${workspaceFolder}')) {
    if (folder === undefined) {
      return undefined;
    }
    name = name.split('${workspaceFolder}').join(folder);
  }
  if (name === '~' || name.startsWith('~/')) {
    name = path.join(os.homedir(), name.slice(1));
  }
  const extensions =
    process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean)] : [''];
  if (name.includes('/') || name.includes(path.sep)) {
    const full = folder === undefined ? path.resolve(name) : path.resolve(folder, name);
    return extensions.map((ext) => full + ext).find(isProgram);
  }
  const venvDirs = venvFolders.flatMap((root) => VENV_BIN_DIRS.map((dir) => path.join(root, dir)));
  for (const dir of [...venvDirs, ...(env.PATH ?? '').split(path.delimiter)]) {
    if (!dir) {
      continue;
    }
    for (const ext of extensions) {
      const candidate = path.join(dir, name + ext);
      if (isProgram(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}
