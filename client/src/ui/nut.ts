// NutUI components the app uses, each with its own styles (no full-library import: the main package stays
// small). NutUI is designed at 375 px; config/index.ts sets designWidth accordingly for its files.
import '@nutui/nutui-react-taro/dist/es/packages/button/style/css';
import '@nutui/nutui-react-taro/dist/es/packages/cell/style/css';
import '@nutui/nutui-react-taro/dist/es/packages/checkbox/style/css';
import '@nutui/nutui-react-taro/dist/es/packages/input/style/css';
import '@nutui/nutui-react-taro/dist/es/packages/tag/style/css';
import '@nutui/nutui-react-taro/dist/es/packages/loading/style/css';

export { default as Button } from '@nutui/nutui-react-taro/dist/es/packages/button/index';
export { default as Cell } from '@nutui/nutui-react-taro/dist/es/packages/cell/index';
export { default as Checkbox } from '@nutui/nutui-react-taro/dist/es/packages/checkbox/index';
export { default as Input } from '@nutui/nutui-react-taro/dist/es/packages/input/index';
export { default as Tag } from '@nutui/nutui-react-taro/dist/es/packages/tag/index';
export { default as Loading } from '@nutui/nutui-react-taro/dist/es/packages/loading/index';
