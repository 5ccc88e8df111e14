/**
 * The built-in endpoint table: Open Telekom Cloud's regions by their own host
 * names, every other region id as Huawei Cloud.
 */

/** APIG and IAM base URLs of one region (IAM ending before `/v3`). */
export interface Endpoints {
  apig: string;
  iam: string;
}

const OTC: Record<string, Endpoints> = {
  "eu-de": { apig: "https://apig.eu-de.otc.t-systems.com", iam: "https://iam.eu-de.otc.t-systems.com" },
  "eu-nl": { apig: "https://apig.eu-nl.otc.t-systems.com", iam: "https://iam.eu-nl.otc.t-systems.com" },
  // The Swiss cloud lives under `sc.` and its IAM on a host of its own.
  "eu-ch2": { apig: "https://apig.eu-ch2.sc.otc.t-systems.com", iam: "https://iam-pub.eu-ch2.sc.otc.t-systems.com" },
};

/** The endpoints of a region id as the clouds publish them. */
export function builtInEndpoints(region: string): Endpoints {
  if (Object.hasOwn(OTC, region)) return OTC[region]!;
  return { apig: `https://apig.${region}.myhuaweicloud.com`, iam: `https://iam.${region}.myhuaweicloud.com` };
}
