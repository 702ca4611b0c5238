/**
 * @tarojs/components as plain DOM elements in jsdom: enough for Testing Library to render and click what the
 * app and NutUI draw. `className`, `style`, `onClick` and data attributes pass through.
 */
import { createElement, forwardRef, type ReactNode } from 'react';

type Props = Record<string, unknown> & { children?: ReactNode };

function el(tag: string, name: string) {
  const C = forwardRef<HTMLElement, Props>((props, ref) => {
    const out: Record<string, unknown> = { ref };
    for (const [k, v] of Object.entries(props)) {
      if (k === 'children') continue;
      if (k === 'className' || k === 'style' || k === 'id' || k.startsWith('data-') || k.startsWith('aria-'))
        out[k] = v;
      else if (k === 'onClick' || k === 'onInput' || k === 'onChange' || k === 'onBlur' || k === 'onFocus')
        out[k === 'onInput' ? 'onInput' : k] = v;
      else if (k === 'src' || k === 'value' || k === 'placeholder' || k === 'disabled' || k === 'type')
        out[k] = v;
    }
    return createElement(tag, out, props.children as ReactNode);
  });
  C.displayName = name;
  return C;
}

export const View = el('div', 'View');
export const Text = el('span', 'Text');
export const Image = el('img', 'Image');
export const Button = el('button', 'Button');
export const Input = el('input', 'Input');
export const Label = el('label', 'Label');
export const ScrollView = el('div', 'ScrollView');
export const ITouchEvent = {};
