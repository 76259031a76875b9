// The shapes the Rust side sends and receives. They are generated from the Rust types with ts-rs
// (src-tauri/tests/bindings.rs, run by scripts/gen-types.sh) into generated/, so the two cannot
// drift; never edit those files by hand. No secrets, ever.
export type { AppView } from "./generated/AppView";
export type { AgentView } from "./generated/AgentView";
export type { WorkspaceView } from "./generated/WorkspaceView";
export type { McpTokenView } from "./generated/McpTokenView";
export type { IdpView } from "./generated/IdpView";
// `Event` would shadow the DOM's Event type.
export type { Event as AppEvent } from "./generated/Event";
export type { Level } from "./generated/Level";
export type { AppError } from "./generated/AppError";
export type { WorkspaceForm } from "./generated/WorkspaceForm";
export type { IdpForm } from "./generated/IdpForm";
export type { SubjectTokenKind } from "./generated/SubjectTokenKind";
export type { TokenState } from "./generated/TokenState";
export type { ErrorKind } from "./generated/ErrorKind";
export type { Failure } from "./generated/Failure";

// The doctor's report (crates/core's doctor module), under the names the dashboard uses.
export type { Report as DoctorReport } from "./generated/Report";
export type { Step as DoctorStep } from "./generated/Step";

// The first-run set-up: the core's IdP presets and team-file plans.
export type { PresetView } from "./generated/PresetView";
export type { PresetForm } from "./generated/PresetForm";
export type { TeamPlan } from "./generated/TeamPlan";
export type { TeamEntry } from "./generated/TeamEntry";
export type { TeamHost } from "./generated/TeamHost";
