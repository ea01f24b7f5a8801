// Creating elements from Camunda 7 element templates, for the create and append menus of
// bpmn-js-create-append-anything. Those menus call elementTemplates.createElement(template), which
// bpmn-js-element-templates gives its Camunda 8 flavour only. Here the Camunda 7 service gets it: the new
// shape is a plain element of the template's type named after the template, and once it is on the canvas
// the library's own applyTemplate() fills it in (camunda:type, topic, input/output parameters) within the
// same command, so one undo removes both.
import CommandInterceptor from 'diagram-js/lib/command/CommandInterceptor';

const pending = new WeakMap();

export default class CamundaTemplateElements extends CommandInterceptor {
  constructor(eventBus, elementTemplates, elementFactory) {
    super(eventBus);

    elementTemplates.createElement = function(template) {
      if (!template) {
        throw new Error('template is missing');
      }
      const type = (template.elementType && template.elementType.value) || template.appliesTo[0];
      const shape = elementFactory.createShape({ type });
      if (template.name) {
        shape.businessObject.name = template.name;
      }
      pending.set(shape, template);
      return shape;
    };

    this.postExecuted('shape.create', function(context) {
      const shape = context.shape;
      const template = pending.get(shape);
      if (template) {
        pending.delete(shape);
        elementTemplates.applyTemplate(shape, template);
      }
    }, true);
  }
}

CamundaTemplateElements.$inject = [ 'eventBus', 'elementTemplates', 'elementFactory' ];

export const CamundaTemplateElementsModule = {
  __init__: [ 'camundaTemplateElements' ],
  camundaTemplateElements: [ 'type', CamundaTemplateElements ]
};
