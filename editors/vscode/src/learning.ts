// Learning from the workspace's notes: what `nextword.status` reports of each folder, the
// server's "Reading your notes" progress, and the words the status item and messages use.
import * as path from 'path';

/** One entry of `nextword.status`'s `workspaces`: a workspace folder, or the store of files outside them. */
export interface WorkspaceLearning {
  folder?: string | null; // the folder's path; null or "outside" for files saved outside every folder
  state?: string; // reading, ready or off
  files?: number;
  words?: number;
  newWords?: number; // words the model's vocabulary lacks
  skipped?: { [reason: string]: number } | null; // files not read, by reason (binary, too large, …)
  leftOut?: number | null; // files not learned because learning.maxWords was reached
}

/** How far the server is in reading the notes, from its `$/progress` messages ("120 of 490 files"). */
export interface Reading {
  done?: number;
  total?: number;
}

/** The title of the server's work-done progress while it reads a workspace's notes. */
export const READING_TITLE = 'Reading your notes';

/** "120 of 490 files" -> { done: 120, total: 490 }; anything else -> {}. */
export function readingCount(message: string | undefined): Reading {
  const match = /(\d[\d,]*)\s+of\s+(\d[\d,]*)/.exec(message ?? '');
  if (!match) {
    return {};
  }
  return { done: Number(match[1].replace(/,/g, '')), total: Number(match[2].replace(/,/g, '')) };
}

/** The work-done progress values the client passes on (begin, report, end). */
export interface ProgressValue {
  kind: string;
  title?: string;
  message?: string;
}

/**
 * Follows the server's "Reading your notes" progress (the server may read several folders at
 * once, each with its own token), so that the status item can show the count as it moves.
 * Every other progress (training's) is left alone.
 */
export class ReadingProgress {
  private readonly reads = new Map<string | number, Reading>();

  /** Takes one `$/progress` value; true when what `current()` says has changed. */
  update(token: string | number, value: ProgressValue): boolean {
    if (value.kind === 'begin') {
      if (!(value.title ?? '').toLowerCase().startsWith(READING_TITLE.toLowerCase())) {
        return false;
      }
      this.reads.set(token, readingCount(value.message));
      return true;
    }
    if (!this.reads.has(token)) {
      return false;
    }
    if (value.kind === 'end') {
      this.reads.delete(token);
    } else {
      // A report without a count keeps the last one.
      this.reads.set(token, { ...this.reads.get(token), ...readingCount(value.message) });
    }
    return true;
  }

  /** Every read in progress, added up; undefined when none is. */
  current(): Reading | undefined {
    if (this.reads.size === 0) {
      return undefined;
    }
    const counted = [...this.reads.values()].filter((r) => r.done !== undefined && r.total !== undefined);
    if (counted.length === 0) {
      return {};
    }
    return { done: counted.reduce((sum, r) => sum + (r.done ?? 0), 0), total: counted.reduce((sum, r) => sum + (r.total ?? 0), 0) };
  }

  clear(): void {
    this.reads.clear();
  }
}

export function isOutside(entry: WorkspaceLearning): boolean {
  return entry.folder == null || entry.folder === 'outside';
}

/** A folder's name as a person reads it: its last part, or what the outside store holds. */
export function folderLabel(entry: WorkspaceLearning): string {
  return isOutside(entry) ? 'files outside the workspace folders' : path.basename(entry.folder ?? '') || (entry.folder ?? '');
}

function count(n: number | undefined, one: string, many = `${one}s`): string {
  const value = n ?? 0;
  return `${value.toLocaleString('en-US')} ${value === 1 ? one : many}`;
}

/** Whether learning is off: the setting says so, or every store the server reports is off. */
export function learningOff(workspaces: readonly WorkspaceLearning[] | null | undefined, enabled: boolean | undefined): boolean {
  if (enabled === false) {
    return true;
  }
  return !!workspaces && workspaces.length > 0 && workspaces.every((w) => w.state === 'off');
}

/**
 * The status item's words for learning: "reading your notes 120/490" while the server reads
 * (the count from its progress), "learning off" when off, and nothing once every folder is
 * ready, or with a server that reports no workspaces.
 */
export function learningText(workspaces: readonly WorkspaceLearning[] | null | undefined, reading: Reading | undefined, enabled: boolean | undefined): string {
  if (learningOff(workspaces, enabled)) {
    return 'learning off';
  }
  if (reading?.done !== undefined && reading.total !== undefined) {
    return `reading your notes ${reading.done.toLocaleString('en-US')}/${reading.total.toLocaleString('en-US')}`;
  }
  if (reading !== undefined || (workspaces ?? []).some((w) => w.state === 'reading')) {
    return 'reading your notes';
  }
  return '';
}

/** One line per store: "notes: ready, 490 files, 512,340 words, 2,310 new words; skipped: 3 binary". */
export function learningLines(workspaces: readonly WorkspaceLearning[] | null | undefined): string[] {
  return (workspaces ?? []).map((entry) => {
    let line = `${folderLabel(entry)}: ${entry.state ?? 'unknown'}`;
    if (entry.state !== 'off') {
      line += `, ${count(entry.files, 'file')}, ${count(entry.words, 'word')}, ${count(entry.newWords, 'new word')}`;
    }
    const skipped = Object.entries(entry.skipped ?? {}).filter(([, n]) => n > 0);
    if (skipped.length > 0) {
      line += `; skipped: ${skipped.map(([reason, n]) => `${n.toLocaleString('en-US')} ${reason}`).join(', ')}`;
    }
    if (entry.leftOut) {
      line += `; ${count(entry.leftOut, 'file')} left out (nextword.learning.maxWords reached)`;
    }
    return line;
  });
}

/** For the status message: "learned from your notes: 2 folders, 490 files, 512,340 words (2,310 new)". */
export function learningSummary(workspaces: readonly WorkspaceLearning[] | null | undefined, enabled: boolean | undefined): string {
  if (workspaces == null) {
    return '';
  }
  if (learningOff(workspaces, enabled)) {
    return 'learning from your notes is off';
  }
  const on = workspaces.filter((w) => w.state !== 'off');
  const folders = on.filter((w) => !isOutside(w)).length;
  const files = on.reduce((sum, w) => sum + (w.files ?? 0), 0);
  const words = on.reduce((sum, w) => sum + (w.words ?? 0), 0);
  const newWords = on.reduce((sum, w) => sum + (w.newWords ?? 0), 0);
  const reading = on.some((w) => w.state === 'reading') ? 'reading your notes; so far ' : '';
  return `${reading}learned from ${count(folders, 'folder')}: ${count(files, 'file')}, ${count(words, 'word')} (${newWords.toLocaleString('en-US')} new)`;
}

/** What the person reads once a forget is done. */
export function forgottenMessage(name: string, forgotten: readonly unknown[] | undefined, enabled: boolean | undefined): string {
  if (forgotten !== undefined && forgotten.length === 0) {
    return `nextword: there was nothing learned from ${name} to forget.`;
  }
  const again = enabled === false ? '' : ' It reads the folder again from scratch (learning is on).';
  return `nextword: forgot what it learned from ${name}.${again}`;
}
