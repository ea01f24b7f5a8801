// BPMN modeler with the Camunda 7 properties panel and element templates (window.PortalBpmnModeler).
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import 'bpmn-js-element-templates/dist/assets/element-templates.css';

import Modeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  CamundaPlatformTooltipProvider
} from 'bpmn-js-properties-panel';
import { ElementTemplatesPropertiesProviderModule } from 'bpmn-js-element-templates';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdleDescriptor from 'camunda-bpmn-moddle/resources/camunda.json';

export {
  Modeler,
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  CamundaPlatformTooltipProvider,
  ElementTemplatesPropertiesProviderModule,
  CamundaBehaviorsModule,
  camundaModdleDescriptor
};

/** The modules a Camunda 7 modeler with properties panel and element templates needs, in order. */
export const camundaPlatformModules = [
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  CamundaBehaviorsModule,
  ElementTemplatesPropertiesProviderModule
];

export const versions = {
  'bpmn-js': BPMN_JS_VERSION,
  'bpmn-js-properties-panel': PROPERTIES_PANEL_VERSION,
  'bpmn-js-element-templates': ELEMENT_TEMPLATES_VERSION
};
