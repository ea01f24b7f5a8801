// Read-only BPMN viewer with zoom and scroll (window.PortalBpmnViewer).
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';

import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';

export { NavigatedViewer };
export const versions = { 'bpmn-js': BPMN_JS_VERSION };
