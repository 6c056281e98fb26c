/**
 * Physical lines from text that arrives in chunks. A line ends at "\n", "\r\n" or a lone "\r"; a
 * "\r" at the end of a chunk waits for the next chunk before it is judged.
 */
export interface TextLine {
  text: string;
  /** 1-based. */
  line: number;
}

export class LineSplitter {
  private partial = '';
  private pendingCarriageReturn = false;
  private nextLine = 1;

  push(chunk: string): TextLine[] {
    const out: TextLine[] = [];
    if (chunk === '') return out;
    let start = 0;
    if (this.pendingCarriageReturn) {
      this.pendingCarriageReturn = false;
      if (chunk.startsWith('\n')) start = 1;
    }
    for (let i = start; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      out.push({ text: this.partial + chunk.slice(start, i), line: this.nextLine++ });
      this.partial = '';
      if (c === 13) {
        if (i + 1 === chunk.length) this.pendingCarriageReturn = true;
        else if (chunk.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.partial += chunk.slice(start);
    return out;
  }

  /** The last line when the text does not end with a line break. */
  end(): TextLine[] {
    if (this.partial === '') return [];
    const last = { text: this.partial, line: this.nextLine++ };
    this.partial = '';
    return [last];
  }
}
