import { describe, expect, it } from 'vitest';
import { routerSplit } from './balance.ts';
import { assignTasks, expertOfTask, parseExpertTasks } from './assignment.ts';

const TASKS = ['fpb', 'gsm8k', 'alpaca', 'dolly'];

describe('which tasks teach which expert', () => {
  it('teaches each expert the task of its own name unless told otherwise', () => {
    expect(assignTasks(['fpb', 'gsm8k'], TASKS)).toEqual([['fpb'], ['gsm8k']]);
    const assignment = assignTasks(['fpb', 'gsm8k', 'base'], TASKS, new Map([['base', ['alpaca', 'dolly']]]));
    expect(assignment).toEqual([['fpb'], ['gsm8k'], ['alpaca', 'dolly']]);
    expect(expertOfTask(['fpb', 'gsm8k', 'base'], assignment, 'dolly')).toBe('base');
    expect(expertOfTask(['fpb', 'gsm8k', 'base'], assignment, 'squad')).toBeUndefined();
  });

  it('lets an explicit assignment replace the default of an expert named after a task', () => {
    expect(assignTasks(['fpb', 'shared'], TASKS, new Map([['fpb', ['fpb', 'gsm8k']], ['shared', ['alpaca']]]))).toEqual([['fpb', 'gsm8k'], ['alpaca']]);
  });

  it('refuses a task claimed by two experts, naming the task and both experts', () => {
    expect(() => assignTasks(['fpb', 'base'], TASKS, new Map([['base', ['fpb']]]))).toThrow(expect.objectContaining({ code: 'ROUTER_TASK_CLAIMED_TWICE', message: 'task "fpb" is assigned to expert "fpb" and to expert "base": every task teaches exactly one expert', details: { task: 'fpb', experts: ['fpb', 'base'] } }));
    expect(() => assignTasks(['shared', 'base'], TASKS, new Map([['shared', ['alpaca', 'alpaca']], ['base', ['dolly']]]))).toThrow(/task "alpaca" is assigned to expert "shared" and to expert "shared" twice/);
  });

  it('refuses an expert with no task, naming it and the recipe’s tasks', () => {
    expect(() => assignTasks(['fpb', 'base'], TASKS)).toThrow(expect.objectContaining({ code: 'ROUTER_EXPERT_WITHOUT_TASK', details: { experts: ['base'] }, message: expect.stringContaining('expert "base" has no task of that name in the recipe (tasks: fpb, gsm8k, alpaca, dolly)') }));
    expect(() => assignTasks(['fpb', 'shared'], TASKS, new Map([['shared', []]]))).toThrow(expect.objectContaining({ code: 'ROUTER_EXPERT_WITHOUT_TASK', details: { experts: ['shared'] } }));
  });

  it('refuses a task the recipe lacks and an assignment to an expert the router lacks, naming them', () => {
    expect(() => assignTasks(['fpb', 'base'], TASKS, new Map([['base', ['alpaca', 'squad', 'boolq']]]))).toThrow(expect.objectContaining({ code: 'ROUTER_UNKNOWN_TASK', details: { tasks: ['squad', 'boolq'] }, message: expect.stringContaining('task "squad", task "boolq" are not in the recipe (tasks: fpb, gsm8k, alpaca, dolly)') }));
    expect(() => assignTasks(['fpb', 'gsm8k'], TASKS, new Map([['base', ['alpaca']]]))).toThrow(expect.objectContaining({ code: 'ROUTER_UNKNOWN_EXPERT', details: { experts: ['base'] } }));
  });

  it('reads --expert-tasks as NAME=TASK+TASK entries separated by commas, and refuses anything else', () => {
    expect([...parseExpertTasks('base=alpaca+dolly, shared=gsm8k')]).toEqual([['base', ['alpaca', 'dolly']], ['shared', ['gsm8k']]]);
    expect(() => parseExpertTasks('base:alpaca')).toThrow(/"base:alpaca" is not one/);
    expect(() => parseExpertTasks('base=alpaca+')).toThrow(/"base=alpaca\+" is not one/);
    expect(() => parseExpertTasks('base=alpaca,base=dolly')).toThrow(/names expert "base" twice/);
  });
});

describe('balance with an expert of two tasks', () => {
  const items = (task: string, count: number) => Array.from({ length: count }, (_, i) => `${task}-${i}`);
  const taskOf = (item: string) => item.slice(0, item.indexOf('-'));
  const perTask = (list: { item: string; label: number }[], label: number) => {
    const counts: Record<string, number> = {};
    for (const { item } of list.filter((entry) => entry.label === label)) counts[taskOf(item)] = (counts[taskOf(item)] ?? 0) + 1;
    return counts;
  };

  it('counts the expert as one pool, balanced against the others, its count shared evenly between its tasks', () => {
    // base learns from alpaca (40) and dolly (60): a pool of 100 against fpb's 50. The smallest pool (50)
    // holds out floor(50 × 0.2) = 10 per expert and gives 40 to train on per expert.
    const split = routerSplit(
      [
        { name: 'fpb', items: items('fpb', 50) },
        { name: 'base', tasks: [{ name: 'alpaca', items: items('alpaca', 40) }, { name: 'dolly', items: items('dolly', 60) }] },
      ],
      { balance: 'balanced', seed: 4 },
    );
    expect(split.trainCounts).toEqual([40, 40]);
    expect(split.heldOutCounts).toEqual([10, 10]);
    expect(perTask(split.heldOut, 1)).toEqual({ alpaca: 5, dolly: 5 });
    expect(perTask(split.train, 1)).toEqual({ alpaca: 20, dolly: 20 });
    const held = new Set(split.heldOut.map(({ item }) => item));
    expect(split.train.some(({ item }) => held.has(item))).toBe(false);
  });

  it('gives an odd count to the first task by one, and a task that runs out leaves its turns to the other', () => {
    const odd = routerSplit(
      [
        { name: 'fpb', items: items('fpb', 24) },
        { name: 'base', tasks: [{ name: 'alpaca', items: items('alpaca', 30) }, { name: 'dolly', items: items('dolly', 30) }] },
      ],
      { balance: 'balanced', seed: 5 },
    );
    // 24 → 4 held out, 20 to train: the base pool's first 4 dealt prompts are held out, its next 20 trained on.
    expect(perTask(odd.heldOut, 1)).toEqual({ alpaca: 2, dolly: 2 });
    expect(perTask(odd.train, 1)).toEqual({ alpaca: 10, dolly: 10 });
    const short = routerSplit(
      [
        { name: 'fpb', items: items('fpb', 50) },
        { name: 'base', tasks: [{ name: 'alpaca', items: items('alpaca', 6) }, { name: 'dolly', items: items('dolly', 60) }] },
      ],
      { balance: 'balanced', seed: 6 },
    );
    // 10 held out per expert (5 alpaca, 5 dolly); alpaca has 1 left, so dolly gives the other 39 of the 40.
    expect(perTask(short.heldOut, 1)).toEqual({ alpaca: 5, dolly: 5 });
    expect(perTask(short.train, 1)).toEqual({ alpaca: 1, dolly: 39 });
  });

  it('refuses a task of an expert with no prompt, naming both', () => {
    expect(() => routerSplit([{ name: 'fpb', items: items('fpb', 10) }, { name: 'base', tasks: [{ name: 'alpaca', items: items('alpaca', 10) }, { name: 'raw', items: [] }] }], { balance: 'balanced', seed: 1 })).toThrow(/task "raw" of expert "base" has no training prompt/);
  });
});
