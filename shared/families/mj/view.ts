import type { TaskStatus } from '../../tasks/model.js';
import type { MjStatus } from './protocol.js';
import type { MjButton, MjImage, MjTask } from './task.js';

/** The MJ task object of fetch, list and notifyHook (docs/midjourney.md, "The MJ task object"). */
export interface MjTaskObject {
  id: string;
  action: string;
  status: MjStatus;
  prompt: string;
  promptEn: string;
  description: string;
  state: string | null;
  botType: string;
  submitTime: number;
  startTime: number | null;
  finishTime: number | null;
  imageUrl: string | null;
  /** The grid's single images, only when the upstream gave them. */
  imageUrls?: MjImage[];
  progress: string;
  failReason: string | null;
  properties: Record<string, unknown>;
  buttons: MjButton[];
}

export function mjStatusOf(task: Pick<MjTask, 'status' | 'upstream'>): MjStatus {
  const map: Record<TaskStatus, MjStatus> = {
    queued: 'NOT_START',
    requires_action: 'MODAL',
    running: task.upstream?.status === 'IN_PROGRESS' ? 'IN_PROGRESS' : 'SUBMITTED',
    succeeded: 'SUCCESS',
    failed: 'FAILURE',
    canceled: 'CANCEL',
  };
  return map[task.status];
}

export function toMjTask(task: MjTask): MjTaskObject {
  const mj = task.mj;
  const status = mjStatusOf(task);
  const properties: Record<string, unknown> = { ...task.properties };
  if (mj?.notifyHook) properties.notifyHook = mj.notifyHook;
  if (mj?.mode) properties.mode = mj.mode;
  if (mj?.parentId) properties.parentId = mj.parentId;
  return {
    id: task.id,
    action: mj?.action ?? 'IMAGINE',
    status,
    prompt: mj?.prompt ?? '',
    promptEn: typeof task.properties.promptEn === 'string' ? task.properties.promptEn : (mj?.prompt ?? ''),
    description: mj?.description ?? '',
    state: mj?.state ?? null,
    botType: mj?.botType ?? 'MID_JOURNEY',
    submitTime: task.created_at,
    startTime: task.started_at,
    finishTime: task.completed_at,
    imageUrl: task.image_url,
    ...(task.image_urls?.length ? { imageUrls: task.image_urls } : {}),
    progress: status === 'FAILURE' ? '' : status === 'SUCCESS' ? '100%' : `${task.progress}%`,
    failReason: task.error?.message ?? null,
    properties,
    buttons: status === 'SUCCESS' ? task.buttons : [],
  };
}

