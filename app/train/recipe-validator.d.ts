// Types of the generated recipe-validator.js (Ajv's standalone validator for recipe.schema.json).
import type { ValidateFunction } from 'ajv';

declare const validate: ValidateFunction;
export default validate;
export { validate };
