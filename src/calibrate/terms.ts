// The coefficients `schedlab calibrate` can fit or pin (the CLI lists them without loading the fitter).
/**
 * Coefficients a fit may set. perDecodeSeq is left out: perDecodeSeq·D = perDecodeSeq·T −
 * perDecodeSeq·P, which the batch-token table and perPrefillToken already express; perContextToken,
 * the legacy term for all context, is left to old profiles.
 */
export const FIT_TERMS = ['base', 'perPrefillToken', 'perPrefillSeq', 'perDecodeContextTokenPs', 'perPrefillContextTokenPs', 'perAttendedPairPs'] as const;
export type FitTerm = (typeof FIT_TERMS)[number];
