/** Lambda's entry for prepare: the pipeline configuration is read (functions/context.ts) before the handler runs. */
import { withPipelineConfig } from '../context';
import { handler as prepare } from '../prepare';

export const handler = withPipelineConfig(prepare);
