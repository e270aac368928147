/** Lambda's entry for aggregate: the pipeline configuration is read (functions/context.ts) before the handler runs. */
import { withPipelineConfig } from '../context';
import { handler as aggregate } from '../aggregate';

export const handler = withPipelineConfig(aggregate);
