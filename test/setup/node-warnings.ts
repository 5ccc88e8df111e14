// Runs in every test worker before its test file (vitest.config.ts, setupFiles).
import { hideSdkNodeVersionWarning } from "../../infra/dev/node-warnings";

hideSdkNodeVersionWarning();
