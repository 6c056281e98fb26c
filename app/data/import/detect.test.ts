import { describe, expect, it } from 'vitest';
import { FIXTURES, fixtureBytes } from '../test-support/fixtures.ts';
import { writeTinyParquet } from '../test-support/tiny-parquet.ts';
import { DETECTION_BYTES, detectFileFormat } from './detect.ts';

const head = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('detectFileFormat', () => {
  it('recognizes each real fixture from its name and first bytes', () => {
    const first = (relative: string) => fixtureBytes(relative).subarray(0, DETECTION_BYTES);
    expect(detectFileFormat('train.jsonl', first(FIXTURES.gsm8kTrain))).toBe('jsonl');
    expect(detectFileFormat('alpaca_en_demo.json', first(FIXTURES.alpaca))).toBe('json');
    expect(detectFileFormat('sent_train.csv', first(FIXTURES.twitterTrain))).toBe('csv');
    expect(detectFileFormat('Sentences_50Agree.txt', first(FIXTURES.fpb))).toBe('text');
  });

  it('trusts the Parquet magic number over the name', () => {
    const parquet = writeTinyParquet([{ name: 'a', kind: 'int32', values: [1] }]);
    expect(detectFileFormat('upload.bin', parquet)).toBe('parquet');
  });

  it('sees JSON Lines in a file named .json, and an object of rows on one line as JSON', () => {
    expect(detectFileFormat('data.json', head('{"a":1}\n{"a":2}\n'))).toBe('jsonl');
    expect(detectFileFormat('data.json', head('{"q1": {"a": 1}, "q2": {"a": 2}}'))).toBe('json');
    expect(detectFileFormat('data.json', head('{\n  "q1": {"a": 1}\n}'))).toBe('json');
  });

  it('guesses from content when the name says nothing', () => {
    expect(detectFileFormat('paste', head('[{"a":1}]'))).toBe('json');
    expect(detectFileFormat('paste', head('{"a":1}\n'))).toBe('jsonl');
    expect(detectFileFormat('paste', head('text,label\nx,1\ny,0\n'))).toBe('csv');
    expect(detectFileFormat('paste', head('one sentence\nanother one\n'))).toBe('text');
  });
});
