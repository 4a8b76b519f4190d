import { Command, InvalidArgumentError } from 'commander';
import { streamChat } from './chat.js';
import { createDisplay, followTask, printResult, type TaskView } from './follow.js';
import { CliError, createClient, type Client } from './http.js';

/**
 * The `relayq` command line (bin/relayq.js runs it): submit MJ, Suno and video tasks and follow
 * them to their end with a progress bar, list tasks, stream a chat answer. The API's URL and key
 * come from `--url`/`--key` or `RELAYQ_URL`/`RELAYQ_API_KEY`. Any failure (relayq unreachable,
 * key refused, task failed) prints one line on stderr and exits 1.
 */

const DEFAULT_URL = 'http://127.0.0.1:8080';

/** A task of the `GET /v1/tasks` list, as the table shows it. */
type ListedTask = TaskView & { created_at: number };

interface GlobalOptions {
  url?: string;
  key?: string;
}

function clientOf(cmd: Command): Client {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  return createClient({ url: o.url || process.env.RELAYQ_URL || DEFAULT_URL, key: o.key || process.env.RELAYQ_API_KEY || '' });
}

/** Follows a task to its end (with `--wait`) and prints its result, or prints its id at once. */
async function finish(client: Client, taskId: string, wait: boolean | undefined, fallbackUrl: string | null = null): Promise<void> {
  if (!wait) {
    process.stdout.write(`${taskId}\n`);
    return;
  }
  printResult(await followTask(client, taskId, createDisplay(taskId)), process.stdout, fallbackUrl);
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

/** The program, built fresh for each run. */
function buildProgram(): Command {
  const program = new Command('relayq')
    .description('Command line for a relayq API: submit tasks, follow them, stream chat answers')
    .option('--url <url>', `relayq API base URL (env RELAYQ_URL, default ${DEFAULT_URL})`)
    .option('--key <key>', 'API key (env RELAYQ_API_KEY)')
    .showHelpAfterError();

  program
    .command('imagine')
    .description('submit a Midjourney imagine task (POST /mj/submit/imagine); prints its id, or with --wait its image URL')
    .argument('<prompt>', 'the prompt')
    .option('-w, --wait', 'follow the task with a progress bar until it finishes, then print the image URL')
    .option('--niji', 'use the Niji bot (botType NIJI_JOURNEY)')
    .action(async (prompt: string, o: { wait?: boolean; niji?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      const body = { prompt, ...(o.niji ? { botType: 'NIJI_JOURNEY' } : {}) };
      const r = await client.json<{ code: number; description?: string; result?: unknown }>('POST', '/mj/submit/imagine', { body });
      if ((r.code !== 1 && r.code !== 22) || typeof r.result !== 'string') throw new CliError(`imagine refused (code ${r.code}): ${r.description ?? 'no description'}`);
      await finish(client, r.result, o.wait);
    });

  program
    .command('suno')
    .description('submit a Suno music task (POST /suno/submit/music); prints its id, or with --wait its clip URLs')
    .argument('<prompt>', 'what the song is about (gpt_description_prompt), or its lyrics with --lyrics')
    .option('-w, --wait', 'follow the task until it finishes, then print the clip URLs')
    .option('--lyrics', 'the prompt is the lyrics (custom mode) rather than a description')
    .option('--tags <tags>', 'style tags')
    .option('--title <title>', 'song title')
    .option('--mv <model>', 'Suno model version, e.g. chirp-v4')
    .option('--instrumental', 'no vocals')
    .action(async (prompt: string, o: { wait?: boolean; lyrics?: boolean; tags?: string; title?: string; mv?: string; instrumental?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      const body = {
        ...(o.lyrics ? { prompt } : { gpt_description_prompt: prompt }),
        ...(o.tags ? { tags: o.tags } : {}),
        ...(o.title ? { title: o.title } : {}),
        ...(o.mv ? { mv: o.mv } : {}),
        ...(o.instrumental ? { make_instrumental: true } : {}),
      };
      const r = await client.json<{ code?: unknown; message?: string; data?: unknown }>('POST', '/suno/submit/music', { body });
      if (r.code !== 'success' || typeof r.data !== 'string') throw new CliError(`suno refused: ${r.message ?? JSON.stringify(r).slice(0, 200)}`);
      await finish(client, r.data, o.wait);
    });

  program
    .command('video')
    .description('submit a video generation (POST /v1/videos); prints its id, or with --wait its video URL (relayq\'s content URL, read with your key, when the upstream gives none)')
    .argument('<prompt>', 'the prompt')
    .option('-w, --wait', 'follow the task until it finishes, then print the video URL')
    .option('--model <model>', 'video model, e.g. sora-2')
    .option('--seconds <n>', 'length in seconds, e.g. 8')
    .option('--size <size>', 'frame size, e.g. 1280x720')
    .action(async (prompt: string, o: { wait?: boolean; model?: string; seconds?: string; size?: string }, cmd: Command) => {
      const client = clientOf(cmd);
      const body = { prompt, ...(o.model ? { model: o.model } : {}), ...(o.seconds ? { seconds: o.seconds } : {}), ...(o.size ? { size: o.size } : {}) };
      const r = await client.json<{ id?: unknown }>('POST', '/v1/videos', { body, headers: { prefer: 'respond-async' } });
      if (typeof r.id !== 'string') throw new CliError(`video: the answer has no id: ${JSON.stringify(r).slice(0, 200)}`);
      // Video bytes are read through relayq (the upstream wants the channel's key) unless the
      // upstream gave a public URL.
      await finish(client, r.id, o.wait, `${client.url}/v1/videos/${r.id}/content`);
    });

  program
    .command('watch')
    .description('follow a task (GET /v1/tasks/{id}/events) with a progress bar until it finishes; prints its result')
    .argument('<taskId>', 'a relayq task id')
    .action(async (taskId: string, _o: unknown, cmd: Command) => {
      const client = clientOf(cmd);
      printResult(await followTask(client, taskId, createDisplay(taskId)));
    });

  program
    .command('tasks')
    .description('list your latest tasks (GET /v1/tasks)')
    .option('--status <status>', 'only tasks in this status (queued, running, requires_action, succeeded, failed, canceled)')
    .option('--kind <kind>', 'only tasks of this kind, e.g. mj.imagine')
    .option('--limit <n>', 'at most this many (1-100)', positiveInt, 20)
    .option('--json', 'print the list answer as JSON')
    .action(async (o: { status?: string; kind?: string; limit: number; json?: boolean }, cmd: Command) => {
      const client = clientOf(cmd);
      const q = new URLSearchParams({ limit: String(o.limit), ...(o.status ? { status: o.status } : {}), ...(o.kind ? { kind: o.kind } : {}) });
      const list = await client.json<{ data: ListedTask[] }>('GET', `/v1/tasks?${q}`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatTasks(list.data));
    });

  program
    .command('chat')
    .description('ask a chat model (POST /v1/chat/completions, streamed) and print the answer as it comes')
    .argument('<message>', 'the user message')
    .option('-m, --model <model>', 'model name', 'gpt-4o-mini')
    .option('-s, --system <text>', 'a system message')
    .action(async (message: string, o: { model: string; system?: string }, cmd: Command) => {
      await streamChat(clientOf(cmd), { model: o.model, message, system: o.system ?? null }, process.stdout);
    });

  return program;
}

/** The task list as an aligned table: id, kind, status, progress, creation time (UTC). */
export function formatTasks(tasks: ListedTask[]): string {
  if (tasks.length === 0) return 'no tasks\n';
  const rows = [['ID', 'KIND', 'STATUS', 'PROGRESS', 'CREATED'], ...tasks.map((t) => [t.id, t.kind, t.status, `${t.progress}%`, new Date(t.created_at).toISOString()])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

/** Runs the command line on `argv` (process.argv form); sets the exit code, prints failures as one line. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`relayq: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
