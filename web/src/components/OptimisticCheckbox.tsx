"use client";
// A checkbox whose box follows the click at once while the value it shows comes from the query
// cache, which tells its readers a tick later (TanStack Query notifies on the next task): a plain
// controlled input would snap back for that tick. The shown state follows the prop whenever it
// changes — the optimistic value, the server's answer, or the old value put back on a refusal.
import { useEffect, useState, type InputHTMLAttributes } from "react";

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, "type" | "checked" | "onChange"> & {
  checked: boolean;
  onChange: (checked: boolean) => void;
};

export function OptimisticCheckbox({ checked, onChange, ...rest }: Props) {
  const [shown, setShown] = useState(checked);
  useEffect(() => setShown(checked), [checked]);
  return (
    <input
      {...rest}
      type="checkbox"
      checked={shown}
      onChange={(e) => {
        setShown(e.target.checked);
        onChange(e.target.checked);
      }}
    />
  );
}
