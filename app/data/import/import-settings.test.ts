import { describe, expect, it } from 'vitest';
import { DEFAULT_IMPORT_SETTINGS, importOptions, settingsOfOptions, type ImportSettings } from './import-settings.ts';

describe('import settings and importer options', () => {
  it('leaves to detection what the form leaves on Detect', () => {
    expect(importOptions(DEFAULT_IMPORT_SETTINGS)).toEqual({});
    expect(settingsOfOptions({})).toEqual(DEFAULT_IMPORT_SETTINGS);
  });

  it('gives back the settings a file was imported with (the FPB file: @, no header)', () => {
    const cases: ImportSettings[] = [
      { ...DEFAULT_IMPORT_SETTINGS, delimiter: '@', header: 'no' },
      { ...DEFAULT_IMPORT_SETTINGS, delimiter: '\t', header: 'yes', format: 'csv' },
      { ...DEFAULT_IMPORT_SETTINGS, format: 'text', splitting: 'paragraphs' },
      { ...DEFAULT_IMPORT_SETTINGS, format: 'jsonl' },
    ];
    for (const settings of cases) expect(settingsOfOptions(importOptions(settings))).toEqual(settings);
    expect(importOptions({ ...DEFAULT_IMPORT_SETTINGS, delimiter: '@', header: 'no' })).toEqual({ delimiter: '@', header: false });
  });
});
