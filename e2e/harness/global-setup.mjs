// jest loads global setup outside its module system; Node 24 runs the TypeScript itself.
export { default } from './global-setup.ts';
