/**
 * `zod/mini` with English error messages: the one import every schema uses
 * (`import * as z from ".../domain/zod"`). zod/mini loads no locale by default
 * and would answer every issue with a bare "Invalid input"; our 400s and
 * start-up errors must say what is wrong. Namespace imports and the single
 * locale file keep the bundle tree-shaken (no other locales, no JSON Schema).
 */
import { config } from "zod/mini";
import en from "zod/v4/locales/en.js";

config(en());

export * from "zod/mini";
