/** Lambda's entry for notify: the pipeline configuration is read (functions/context.ts) before the handler runs. */
import { withPipelineConfig } from '../context';
import { handler as notify } from '../notify';

export const handler = withPipelineConfig(notify);
