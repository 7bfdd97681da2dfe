/**
 * The toast system: sonner (small, accessible, stacks well under bursts). Mount `<PulseToaster />`
 * once; `notify` is sonner's `toast`.
 */
import { Toaster, toast } from 'sonner';

export const notify = toast;

export function PulseToaster(props: Parameters<typeof Toaster>[0]) {
  return <Toaster position="top-right" richColors closeButton visibleToasts={5} {...props} />;
}
