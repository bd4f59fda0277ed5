// The views of a run record written next to it in the run folder: the CSV files and the plain
// summary (report.html is written by html-report.ts, from results.json alone).
import type { RunFolderFile } from '../record/run-folder';
import type { RunRecord } from '../record/run-record';
import { figuresCsv, samplesCsv, workerSamplesCsv } from './csv-export';
import { renderSummary } from './terminal-summary';

export const FIGURES_CSV = 'figures.csv';
export const SAMPLES_CSV = 'samples.csv';
export const WORKER_SAMPLES_CSV = 'worker-samples.csv';
export const SUMMARY_FILE = 'summary.txt';

export function runViews(record: RunRecord): RunFolderFile[] {
  return [
    [FIGURES_CSV, figuresCsv(record)],
    [SAMPLES_CSV, samplesCsv(record)],
    [WORKER_SAMPLES_CSV, workerSamplesCsv(record)],
    [SUMMARY_FILE, renderSummary(record, { color: false })],
  ];
}
