// DMN modeler (DRD, decision tables, literal expressions) and read-only viewer (window.PortalDmnModeler).
import 'dmn-js/dist/assets/diagram-js.css';
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-drd.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-js-literal-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression.css';
import 'dmn-js/dist/assets/dmn-js-boxed-expression-controls.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn.css';

import Modeler from 'dmn-js/lib/Modeler';
import Viewer from 'dmn-js/lib/Viewer';

export { Modeler, Viewer };
export const versions = { 'dmn-js': DMN_JS_VERSION };
