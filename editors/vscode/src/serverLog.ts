// The server's stderr (its log: "2025-01-01 12:00:00,000 INFO nextword.server...: message") into
// the output channel at each line's own level, without the server's timestamp.
import * as readline from 'readline';
import type { Readable } from 'stream';
import type { LogOutputChannel } from 'vscode';

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

// vscode.LogLevel's values, so that this module loads without VS Code (the tests run it in node).
const LOG_LEVEL_OFF = 0;
const LOG_LEVEL_TRACE = 1;
const LOG_LEVEL_DEBUG = 2;

/**
 * Writes each line of `input` to `channel`; `onLine` sees each non-blank line's text (the
 * extension quotes the last one when the server fails to start). Resolves when `input` ends.
 */
export function pipeServerLog(input: Readable, channel: LogOutputChannel, onLine?: (text: string) => void): Promise<void> {
  let level = 'INFO';
  // The channel drops lines below its own level (Info unless the user changes it), but the
  // server sends DEBUG and TRACE lines only when nextword.logLevel asks for them: those are
  // written at Info, with their level in the text, unless the channel shows them as they are.
  const writeLow = (wanted: number, tag: string, text: string): void => {
    const shown = channel.logLevel !== LOG_LEVEL_OFF && channel.logLevel <= wanted;
    if (shown && wanted === LOG_LEVEL_TRACE) {
      channel.trace(text);
    } else if (shown) {
      channel.debug(text);
    } else {
      channel.info(`[${tag}] ${text}`);
    }
  };
  const lines = readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 });
  lines.on('line', (line: string) => {
    const match = LINE.exec(line);
    const text = match ? match[2] : line; // a line without a header continues the last one (a traceback)
    if (match) {
      level = match[1];
    }
    if (text.trim() !== '') {
      onLine?.(text.trim());
    }
    switch (level) {
      case 'TRACE':
        writeLow(LOG_LEVEL_TRACE, 'trace', text);
        break;
      case 'DEBUG':
        writeLow(LOG_LEVEL_DEBUG, 'debug', text);
        break;
      case 'WARNING':
        channel.warn(text);
        break;
      case 'ERROR':
      case 'CRITICAL':
        channel.error(text);
        break;
      default:
        channel.info(text);
    }
  });
  return new Promise((resolve) => lines.once('close', resolve));
}
