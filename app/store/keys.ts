/**
 * Keys of items that more than one layer reads: the worker writes them, the studio lists and reopens
 * them. They live here, beside the storage they name, so neither side imports the other for a string.
 */

/** Task files the user imported live in the "datasets" store under this prefix; recipes name them without it. */
export const TASK_FILE_PREFIX = 'file/';
