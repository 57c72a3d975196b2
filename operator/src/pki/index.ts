export * from './authority.ts';
export * from './client.ts';
export * from './crl.ts';
export * from './cnpj.ts';
export * from './csr.ts';
export * from './keys.ts';
export * from './names.ts';
export {
  OIDS,
  keyIdentifier,
  randomSerial,
  signCertificate,
  type Certificate,
  type Extension,
} from './x509.ts';
