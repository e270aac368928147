/** Lambda's entry for notify-failure: the pipeline configuration is read (functions/context.ts) before the handler runs. */
import { withPipelineConfig } from '../context';
import { handler as notifyFailure } from '../notify-failure';

export const handler = withPipelineConfig(notifyFailure);
