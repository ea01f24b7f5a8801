// BPMN modeler with the Camunda 7 properties panel and element templates (window.PortalBpmnModeler).
// The templates reach the analyst four ways: the palette's "Create element" menu and the context pad's
// "Append element" menu (bpmn-js-create-append-anything) list them under "Templates"; the "Change element"
// menu of a selected task applies one; and the properties panel's template "Select" opens a chooser
// (@bpmn-io/element-template-chooser).
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import 'bpmn-js-element-templates/dist/assets/element-templates.css';
import '@bpmn-io/element-template-chooser/dist/element-template-chooser.css';

import Modeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  CamundaPlatformTooltipProvider
} from 'bpmn-js-properties-panel';
import { ElementTemplatesPropertiesProviderModule } from 'bpmn-js-element-templates';
import ElementTemplateChooserModule from '@bpmn-io/element-template-chooser';
import { CreateAppendAnythingModule, CreateAppendElementTemplatesModule } from 'bpmn-js-create-append-anything';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdleDescriptor from 'camunda-bpmn-moddle/resources/camunda.json';

import { CamundaTemplateElementsModule } from './camunda-template-elements.js';

export {
  Modeler,
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  CamundaPlatformTooltipProvider,
  ElementTemplatesPropertiesProviderModule,
  ElementTemplateChooserModule,
  CreateAppendAnythingModule,
  CreateAppendElementTemplatesModule,
  CamundaTemplateElementsModule,
  CamundaBehaviorsModule,
  camundaModdleDescriptor
};

/** The modules a Camunda 7 modeler with properties panel and element templates needs, in order. */
export const camundaPlatformModules = [
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
  CamundaBehaviorsModule,
  ElementTemplatesPropertiesProviderModule,
  ElementTemplateChooserModule,
  CreateAppendAnythingModule,
  CreateAppendElementTemplatesModule,
  CamundaTemplateElementsModule
];

export const versions = {
  'bpmn-js': BPMN_JS_VERSION,
  'bpmn-js-properties-panel': PROPERTIES_PANEL_VERSION,
  'bpmn-js-element-templates': ELEMENT_TEMPLATES_VERSION,
  'bpmn-js-create-append-anything': CREATE_APPEND_VERSION,
  '@bpmn-io/element-template-chooser': TEMPLATE_CHOOSER_VERSION
};
