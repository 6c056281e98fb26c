/**
 * What to do next when loading or importing a model fails, where the Model page knows more than the
 * studio-wide advice (ErrorNotice's adviceFor): a 404 is a wrong id, not a network problem.
 */
import type { ErrorReport } from '../../errors.ts';
import { SUPPORTED_ARCHITECTURES } from '../../model/config.ts';

export function modelAdvice(error: ErrorReport, origin: 'hub' | 'local'): string | undefined {
  switch (error.code) {
    case 'HUB_BAD_ID':
      return 'A Hub id looks like owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct: copy it from the model’s page on the Hub.';
    case 'HUB_HTTP':
      return error.details?.status === 404
        ? 'The Hub has no such model or revision. Check the spelling of the id and the revision ("main" is the usual one), or the Hub endpoint below. For a model you have on disk, open it from local files.'
        : undefined;
    case 'HUB_FORBIDDEN':
      return 'This model is gated or private. Accept its licence on its Hub page while signed in, paste a read token from huggingface.co/settings/tokens into Access token below, and press Try again. Or open the model from local files.';
    case 'HUB_NETWORK':
    case 'HUB_INTERRUPTED':
      return 'Check the network connection (or the Hub endpoint below) and press Load again: what was downloaded is kept and the download resumes from there. Without a network, open the model from local files.';
    case 'MODEL_FILE_MISSING':
      return origin === 'local'
        ? 'Pick the model’s own folder, the one holding config.json, tokenizer.json and the .safetensors weights as they are on the Hub.'
        : 'This repository lacks a file the studio needs (config.json, tokenizer.json or .safetensors weights); pick another model.';
    case 'MODEL_UNSUPPORTED':
      return `The studio trains decoder models of these architectures: ${SUPPORTED_ARCHITECTURES.join(', ')}. Pick one of the suggested models.`;
    case 'MODEL_CONFIG_INVALID':
    case 'MODEL_FILE_INVALID':
    case 'MODEL_WEIGHT_DTYPE':
    case 'MODEL_WEIGHT_MISSING':
    case 'MODEL_WEIGHT_SHAPE':
    case 'SAFETENSORS_INVALID':
    case 'TOKENIZER_INVALID':
      return origin === 'local'
        ? 'The file named above is damaged or not the model’s own: download the model folder again, or pick another.'
        : 'The file named above does not match the model; pick another model or revision.';
    case 'HUB_CACHE_CORRUPT':
    case 'MODEL_NOT_FOUND':
      return 'Delete the model on the Library page and load or import it again.';
    default:
      return undefined;
  }
}
