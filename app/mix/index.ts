/** Task mixtures: strategies, a seeded resumable sampler, and a preview of the schedule for the UI. */
export type * from './types.ts';
export {
  annealingAlpha,
  reverseAnnealingAlpha,
  proportionalProbabilities,
  temperatureProbabilities,
  annealedProbabilities,
  uniformProbabilities,
} from './formulas.ts';
export { DEFAULT_REGULARIZER_SHARE, findMixConfigProblems, findMixPlanProblems, resolveMixPlan, validateMixConfig } from './validate.ts';
export type { MixProblem, ResolvedMix } from './validate.ts';
export { taskProbabilities, trainingPointAt } from './probabilities.ts';
export type { TrainingPoint } from './probabilities.ts';
export { MixSampler } from './sampler.ts';
export { DEFAULT_PREVIEW_POINTS, previewMix } from './preview.ts';
export type { MixPreview, MixPreviewOptions, MixPreviewPoint } from './preview.ts';
export { AdaptiveMixer, DEFAULT_ADAPTIVE_OPTIONS, adaptiveOptionProblems, adaptiveProbabilities, boundedShares } from './adaptive.ts';
export type { AdaptiveChange, AdaptiveOptions, AdaptiveRule, AdaptiveState } from './adaptive.ts';
