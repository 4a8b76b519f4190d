import { SingleBar } from 'cli-progress';
import { CliError, type Client } from './http.js';
import { readSse } from './sse.js';

/** The fields of the generic task object (`GET /v1/tasks/{id}`) the command line reads. */
export interface TaskView {
  id: string;
  kind: string;
  status: string;
  progress: number;
  output: unknown;
  error: { type?: string; code?: string | null; message?: string } | null;
}

/** Where progress is shown: a live bar on a terminal, plain lines otherwise (pipes, files, CI logs). */
export interface Display {
  status(status: string): void;
  progress(percent: number): void;
  end(): void;
}

/** A cli-progress bar on a TTY, one line per change anywhere else. */
export function createDisplay(taskId: string, out: NodeJS.WriteStream = process.stdout): Display {
  if (!out.isTTY) {
    let last = -1;
    let lastStatus = '';
    return {
      status(status) {
        if (status === lastStatus) return;
        lastStatus = status;
        out.write(`task ${taskId}: ${status}\n`);
      },
      progress(percent) {
        if (percent === last) return;
        last = percent;
        out.write(`task ${taskId}: ${percent}%\n`);
      },
      end: () => undefined,
    };
  }
  const bar = new SingleBar({ format: ' {bar} {percentage}% | {status} | {task}', hideCursor: true, clearOnComplete: false, stream: out });
  bar.start(100, 0, { status: 'queued', task: taskId });
  return {
    status: (status) => bar.update({ status }),
    progress: (percent) => bar.update(percent),
    end: () => bar.stop(),
  };
}

const RECONNECTS = 10;

/**
 * Follows a task's events (`GET /v1/tasks/{id}/events`: `status`, `progress`, `output`, `done`
 * with the whole task) until it finishes, showing them on `display`. A stream that ends before
 * `done` (an API node restarting) is opened again with `Last-Event-ID`, so no event is shown twice.
 * Returns the finished task; throws CliError when the task is unknown or the stream cannot be had.
 */
export async function followTask(client: Client, taskId: string, display: Display): Promise<TaskView> {
  let lastId: string | null = null;
  try {
    for (let attempt = 0; attempt <= RECONNECTS; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5_000)));
      let res: Response;
      try {
        res = await client.request('GET', `/v1/tasks/${encodeURIComponent(taskId)}/events`, {
          headers: { accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) },
        });
      } catch (err) {
        // Unreachable mid-follow (a restart): try again; a refusal (404, 401) is final.
        if (err instanceof CliError && attempt < RECONNECTS && /^cannot reach/.test(err.message)) continue;
        throw err;
      }
      if (!res.body) continue;
      try {
        for await (const msg of readSse(res.body)) {
          if (msg.id) lastId = msg.id;
          const data = JSON.parse(msg.data) as Record<string, unknown>;
          if (msg.event === 'status' && typeof data.status === 'string') {
            if (data.status === 'succeeded') display.progress(100);
            display.status(data.status);
          }
          else if (msg.event === 'progress' && typeof data.progress === 'number') display.progress(data.progress);
          else if (msg.event === 'done') {
            const task = data as unknown as TaskView;
            if (task.status === 'succeeded') display.progress(100);
            display.status(task.status);
            return task;
          }
        }
      } catch (err) {
        // The connection broke mid-stream: resume after the last event seen.
        if (attempt === RECONNECTS) throw new CliError(`lost the event stream of task ${taskId}: ${(err as Error).message}`);
      }
    }
    throw new CliError(`the event stream of task ${taskId} kept ending before the task finished`);
  } finally {
    display.end();
  }
}

/** Every URL in a task's output (MJ `image_url`, Suno clips' `audio_url`, a video's `video_url`, …), once each. */
export function urlsOf(output: unknown): string[] {
  const found = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string' && /^https?:\/\//.test(v)) found.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(output);
  return [...found];
}

/**
 * Prints a finished task's result on stdout: its URLs one per line, else `fallbackUrl` when
 * given, else its output as JSON. A failed or canceled task throws CliError with the task's own error message.
 */
export function printResult(task: TaskView, out: NodeJS.WritableStream = process.stdout, fallbackUrl: string | null = null): void {
  if (task.status === 'failed') throw new CliError(`task ${task.id} failed: ${task.error?.message ?? 'no reason given'}`);
  if (task.status === 'canceled') throw new CliError(`task ${task.id} was canceled${task.error?.message ? `: ${task.error.message}` : ''}`);
  const urls = urlsOf(task.output);
  if (urls.length === 0 && fallbackUrl) urls.push(fallbackUrl);
  out.write(urls.length > 0 ? `${urls.join('\n')}\n` : `${JSON.stringify(task.output, null, 2)}\n`);
}
