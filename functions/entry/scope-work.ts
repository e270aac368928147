/** Lambda's entry for scope-work: the pipeline configuration is read (functions/context.ts) before the handler runs. */
import { withPipelineConfig } from '../context';
import { handler as scopeWork } from '../scope-work';

export const handler = withPipelineConfig(scopeWork);
