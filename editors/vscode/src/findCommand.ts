// Where a command runs from: a path as given (relative to the workspace folder), or the first match on PATH.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

function isExecutableFile(file: string): boolean {
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
 * `.venv/bin/nextword` means the workspace's own).
 */
export function findCommand(command: string, folder?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
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
    return extensions.map((ext) => full + ext).find(isExecutableFile);
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    for (const ext of extensions) {
      const candidate = path.join(dir, name + ext);
      if (isExecutableFile(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}
