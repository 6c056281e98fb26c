import { describe, expect, it } from 'vitest';
import { filesFromFolderInput, localModelName } from './dropped-files.ts';

/** A FileList as <input webkitdirectory> gives it: every file's path starts with the picked folder's name. */
function folderInput(folder: string, names: string[]): FileList {
  const files = names.map((name) => Object.assign(new File(['{}'], name), { webkitRelativePath: `${folder}/${name}` }));
  return Object.assign(files, { item: (i: number) => files[i] ?? null }) as unknown as FileList;
}

describe('the name a picked model folder is stored under', () => {
  it('is each picked folder’s own name while the name field is empty, so a second folder does not take the first one’s name', () => {
    const first = filesFromFolderInput(folderInput('tiny-awq', ['config.json', 'model.safetensors']));
    const second = filesFromFolderInput(folderInput('tiny-gptq', ['config.json', 'model.safetensors', '.DS_Store']));
    expect(localModelName('', first)).toBe('tiny-awq');
    expect(localModelName('', second)).toBe('tiny-gptq');
    expect(second.paths).toEqual(['config.json', 'model.safetensors']);
  });

  it('is the typed name, trimmed, whatever the folder is called', () => {
    expect(localModelName('  my llama ', { folder: 'tiny-gptq' })).toBe('my llama');
  });

  it('falls back to my-model for loose files with no folder and no typed name', () => {
    expect(localModelName('   ', {})).toBe('my-model');
  });
});
