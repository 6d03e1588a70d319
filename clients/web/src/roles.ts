// Which record kinds each project role may record, and which it receives by sync: the same
// tables as sync-core's `roles` module, which the server applies at sync (a Rust test compares
// them). The app refuses at capture what the server would refuse, deletes after a sync what the
// user's roles no longer receive, and takes the user's roles from enrolment and from every sync
// answer that carries them.
import type { RecordKind } from "./schema";
import type { Identity, Membership } from "./store";
import type { FieldError } from "./records";

export const WRITES: Record<string, RecordKind[]> = {
  admin: ["participant", "contact", "session", "wellbeing", "story"],
  coordinator: ["participant", "contact", "session", "wellbeing", "story"],
  researcher: ["participant", "contact", "session", "wellbeing", "story"],
  peer_worker: ["participant", "contact", "session"],
};

/** What each role is sent: what it may write, except that a peer worker, who may register a
 * person's contact details, never receives any. */
export const RECEIVES: Record<string, RecordKind[]> = {
  admin: ["participant", "contact", "session", "wellbeing", "story"],
  coordinator: ["participant", "contact", "session", "wellbeing", "story"],
  researcher: ["participant", "contact", "session", "wellbeing", "story"],
  peer_worker: ["participant", "session"],
};

export function roleIn(identity: Identity, project: string): string | undefined {
  return identity.memberships.find((m) => m.project === project)?.role;
}

export function canWrite(identity: Identity, project: string, kind: RecordKind): boolean {
  return writes(roleIn(identity, project), kind);
}

/** Whether `role` (as the server names it) is sent records of `kind`; an unknown role is sent nothing. */
export function receives(role: string | undefined, kind: string): boolean {
  return role !== undefined && Object.hasOwn(RECEIVES, role) && RECEIVES[role]!.some((k) => k === kind);
}

/** Whether `role` may write records of `kind`; an unknown role writes nothing. */
export function writes(role: string | undefined, kind: string): boolean {
  return role !== undefined && Object.hasOwn(WRITES, role) && WRITES[role]!.some((k) => k === kind);
}

export function canReceive(identity: Identity, project: string, kind: RecordKind): boolean {
  return receives(roleIn(identity, project), kind);
}

export function writableProjects(identity: Identity): string[] {
  return [...new Set(identity.memberships.filter((m) => (WRITES[m.role] ?? []).length > 0).map((m) => m.project))].sort();
}

/** Why the user may not record `kind` in `project` (code `not_allowed`, or `not_member`). */
export function notAllowedError(identity: Identity, project: string, kind: RecordKind): FieldError {
  const role = roleIn(identity, project);
  return role === undefined
    ? { field: "project", code: "not_member", params: { project } }
    : { field: "project", code: "not_allowed", params: { project, role, kinds: kind } };
}

/** The memberships a sync answer's `setup.roles` (project slug to role) stands for. */
export function membershipsFrom(roles: Record<string, string>): Membership[] {
  return Object.entries(roles)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([project, role]) => ({ project, role }));
}
