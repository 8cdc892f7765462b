// The server's stderr (its log: "2025-01-01 12:00:00,000 INFO nextword.server...: message") into
// the output channel at each line's own level, without the server's timestamp.
import * as readline from 'readline';
import type { Readable } from 'stream';
import type { LogOutputChannel } from 'vscode';

const LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (TRACE|DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

export function pipeServerLog(input: Readable, channel: LogOutputChannel): void {
  let level = 'INFO';
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', (line: string) => {
    const match = LINE.exec(line);
    const text = match ? match[2] : line; // a line without a header continues the last one (a traceback)
    if (match) {
      level = match[1];
    }
    switch (level) {
      case 'TRACE':
        channel.trace(text);
        break;
      case 'DEBUG':
        channel.debug(text);
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
}
