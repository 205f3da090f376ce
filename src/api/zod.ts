/**
 * The one place that names the schema libraries' versions: zod, extended with `.openapi()`
 * metadata so that the schemas that validate requests also generate `/openapi.json`.
 *
 * @module
 */

import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

extendZodWithOpenApi(z);

/**
 * zod with `.openapi()` on every schema.
 *
 * @example
 * ```ts
 * import { z } from "./zod.ts";
 * const Name = z.string().min(1).openapi({ description: "a name" });
 * Name.safeParse("").success; // false
 * ```
 */
export { z };

/**
 * The registry that routes describe themselves in, and the generator of the document.
 *
 * @example
 * ```ts
 * import { OpenAPIRegistry, OpenApiGeneratorV31 } from "./zod.ts";
 * const registry = new OpenAPIRegistry();
 * const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
 *   openapi: "3.1.0", info: { title: "t", version: "1" },
 * });
 * ```
 */
export {
  OpenApiGeneratorV31,
  OpenAPIRegistry,
  type RouteConfig,
} from "@asteasolutions/zod-to-openapi";
