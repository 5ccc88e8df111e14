/**
 * `zod/mini` with English error messages: the one import every schema uses.
 * zod/mini loads no locale by default and would answer every issue with a
 * bare "Invalid input"; our 400s and start-up errors must say what is wrong.
 */
import { z } from "zod/mini";
import { en } from "zod/locales";

z.config(en());

export { z };
