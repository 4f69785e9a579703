import type { CostModel } from '../options.js';

/** What one command did, as far as its server cost is concerned. */
export interface CommandWork {
  write: boolean;
  rowsReturned: number;
  /** Rows in the table when a COUNT query ran (a list without start=-1), else 0. */
  countedTableRows: number;
  /**
   * Time spent in commands this one ran on its behalf (a batch's sub-commands), in ms. It makes the
   * answer later but is billed to those commands, not to this one (docs/protocol.md §5.2).
   */
  nestedMs: number;
}

export function newCommandWork(): CommandWork {
  return { write: false, rowsReturned: 0, countedTableRows: 0, nestedMs: 0 };
}

/** Server time of one command in ms under `model` (REALISTIC_COST in options.ts is the benchmarks' model); nested work excluded. */
export function commandCostMs(model: CostModel, work: CommandWork): number {
  return (
    (work.write ? model.writeMs : model.readMs) +
    work.rowsReturned * model.perRowMs +
    (work.countedTableRows / 1_000_000) * model.countMsPerMillionRows
  );
}
