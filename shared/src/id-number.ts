/**
 * GB 11643 check character of an 18-character resident ID number (mod 11-2). Its own module, free of zod, so
 * the patient client checks the binding form with the same rule without carrying the schemas.
 */
export function isValidIdNo(idNo: string): boolean {
  if (!/^\d{17}[\dX]$/.test(idNo)) return false;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(idNo[i]) * weights[i]!;
  return '10X98765432'[sum % 11] === idNo[17];
}
