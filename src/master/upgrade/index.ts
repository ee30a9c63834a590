export { planUpgrade, stopAfterWave, type UpgradePlan } from "./plan.ts";
export { UpgradeRunner, upgradeFailed, type UpgradeEvent, type UpgradeHostResult, type UpgradeStatus, type UpgradeDeps, type UpgradeOrder } from "./runner.ts";
export { BinaryDigest, selfBinary, FROM_SOURCE, type SelfBinary } from "./binary.ts";
