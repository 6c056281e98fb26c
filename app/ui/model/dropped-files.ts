/**
 * Model files the user picked (folder picker) or dropped (files or a folder), each with its path inside
 * the model folder ("onnx/model.onnx"), because model.importLocal looks files up by those paths.
 * Hidden files and folders (.git, .DS_Store) are left out: they are never part of a model.
 */
export interface PickedFiles {
  files: File[];
  /** Parallel to `files`. */
  paths: string[];
  /** The picked or dropped folder's name, a default for the model's name. */
  folder?: string;
}

/**
 * The name an import stores the picked files under (local/<name>): the name typed in the field, or else the
 * picked folder's own name. Nothing is written back into the field, so the next folder picked is named after
 * itself instead of overwriting the model imported before it.
 */
export function localModelName(typed: string, picked: Pick<PickedFiles, 'folder'>): string {
  return typed.trim() || picked.folder || 'my-model';
}

const isHidden = (path: string) => path.split('/').some((part) => part.startsWith('.'));

function picked(entries: { file: File; path: string }[], folder?: string): PickedFiles {
  const kept = entries.filter((entry) => entry.path && !isHidden(entry.path));
  return { files: kept.map((entry) => entry.file), paths: kept.map((entry) => entry.path), ...(folder ? { folder } : {}) };
}

/** Files from an <input type=file webkitdirectory>: "folder/sub/name" becomes "sub/name". */
export function filesFromFolderInput(list: FileList): PickedFiles {
  const files = [...list];
  const folder = files[0]?.webkitRelativePath.split('/')[0];
  return picked(
    files.map((file) => ({ file, path: file.webkitRelativePath ? file.webkitRelativePath.split('/').slice(1).join('/') : file.name })),
    folder,
  );
}

/**
 * Files from a drop. The entries must be taken while the drop event runs (the browser empties the
 * list afterwards), so call this synchronously from the handler; the folders are read afterwards.
 */
export function filesFromDrop(transfer: DataTransfer): Promise<PickedFiles> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of [...transfer.items]) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry?.();
    if (entry) entries.push(entry);
    else {
      const file = item.getAsFile();
      if (file) loose.push(file);
    }
  }
  return (async () => {
    const found: { file: File; path: string }[] = loose.map((file) => ({ file, path: file.name }));
    for (const entry of entries) found.push(...(await walk(entry)));
    // One dropped folder is the model folder: paths start inside it, as on the Hub.
    const single = entries.length === 1 && loose.length === 0 && entries[0]!.isDirectory ? entries[0]! : undefined;
    const strip = single ? `/${single.name}/` : '/';
    return picked(
      found.map(({ file, path }) => ({ file, path: path.startsWith(strip) ? path.slice(strip.length) : path.replace(/^\/+/, '') })),
      single?.name,
    );
  })();
}

async function walk(entry: FileSystemEntry): Promise<{ file: File; path: string }[]> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    return [{ file, path: entry.fullPath }];
  }
  if (!entry.isDirectory || entry.name.startsWith('.')) return [];
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  const found: { file: File; path: string }[] = [];
  // readEntries answers in batches (about 100 at a time) until it gives an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return found;
    for (const child of batch) found.push(...(await walk(child)));
  }
}
