// Which record kinds each project role may record: the same table as sync-core's `roles` module,
// which the server applies at sync (a Rust test compares the two). The app refuses at capture
// what the server would refuse, and takes the user's roles from enrolment and from every sync
// answer that carries them.
import type { RecordKind } from "./schema";
import type { Identity, Membership } from "./store";
import type { FieldError } from "./records";

export const WRITES: Record<string, RecordKind[]> = {
  admin: ["participant", "session", "wellbeing", "story"],
  coordinator: ["participant", "session", "wellbeing", "story"],
  researcher: ["participant", "session", "wellbeing", "story"],
  peer_worker: ["participant", "session"],
};

export function roleIn(identity: Identity, project: string): string | undefined {
  return identity.memberships.find((m) => m.project === project)?.role;
}

export function canWrite(identity: Identity, project: string, kind: RecordKind): boolean {
  const role = roleIn(identity, project);
  return role !== undefined && (WRITES[role] ?? []).includes(kind);
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
