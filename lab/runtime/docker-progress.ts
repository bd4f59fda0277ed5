// Builds and imports answer with a stream of JSON lines; a failure arrives as a line with
// `error`/`errorDetail` while the HTTP status is still 200. This reads the stream to its end and
// rejects on such a line, so a broken build never looks like a success.
import type Docker from 'dockerode';

export interface ProgressEvent {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

export function followProgress(
  docker: Docker,
  stream: NodeJS.ReadableStream,
  onEvent?: (e: ProgressEvent) => void,
): Promise<ProgressEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: ProgressEvent[]) => {
        if (err) return reject(err);
        const failed = events.find((e) => e.error ?? e.errorDetail);
        if (failed) {
          const log = events
            .map((e) => e.stream ?? e.status ?? '')
            .join('')
            .trim()
            .split('\n')
            .slice(-20)
            .join('\n');
          return reject(new Error(`${failed.errorDetail?.message ?? failed.error}\n${log}`));
        }
        resolve(events);
      },
      onEvent,
    );
  });
}

/** Whether an image with this tag exists in the engine. */
export async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(tag).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}
