import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { GpuInfo } from '../gpu/device.ts';

const run = promisify(execFile);
const BIN = resolve(import.meta.dirname, '../../bin/cocktail.mjs');

describe('cocktail CLI on a real adapter', () => {
  it('`cocktail info` prints the adapter and the features the engine uses', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'info']);
    expect(stdout).toMatch(/^WebGPU adapter\n {2}vendor {8}\S+/);
    expect(stdout).toMatch(/shader-f16 {7}(yes|no)/);
    expect(stdout).toMatch(/maxStorageBufferBindingSize\s+\d+/);
  });

  it('`cocktail info --json` prints one JSON object with the adapter, features and limits', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'info', '--json']);
    const info = JSON.parse(stdout) as GpuInfo;
    expect(info.adapter.vendor.length).toBeGreaterThan(0);
    expect(info.features).toContain('timestamp-query');
    expect(info.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  });
});

describe('cocktail CLI arguments', () => {
  it('refuses an unknown command with exit code 2 and the usage', async () => {
    const failure = await run(process.execPath, [BIN, 'frobnicate']).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: cocktail <command>/);
  });

  it('refuses an unknown flag, naming it and the flags the command takes', async () => {
    const failure = await run(process.execPath, [BIN, 'info', '--verbose']).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toContain('unknown argument "--verbose"; info takes --json');
  });
});
