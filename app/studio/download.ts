/**
 * Saves bytes as a file the browser downloads: a Blob behind an object URL, clicked through a
 * temporary link. The URL is revoked after the click has been handled, so no Blob stays pinned.
 */
export function saveFile(contents: Uint8Array | string, fileName: string, type = 'application/octet-stream'): void {
  const blob = new Blob([contents as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  link.rel = 'noopener';
  link.style.display = 'none';
  document.body.append(link);
  link.click();
  link.remove();
  // Chromium starts the download asynchronously; revoking in the same task can cancel it.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
